package tenantrouterexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/otlpbuf"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// batch is one tenant's data of one signal: the unit of a queue.
type batch struct {
	signal  policy.Signal
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
	records int
	// bytes is the batch's OTLP protobuf size, what the queues' byte
	// bounds count.
	bytes int64
	// proto is the batch as an OTLP export request when route marshaled it
	// to size it (a backend of the batch sends OTLP protobuf, or the
	// journal writes it): the sends and the journal use it rather than
	// walk the batch twice more (pdata sizes a batch before it marshals
	// it). Nil otherwise; a batch with other data (kafka's halves) drops it.
	proto []byte
	// buf holds proto when its memory is reused once every holder let go
	// (otlpbuf): route, each queue the batch entered until the batch left
	// it, and each HTTP body until the transport closed it. Nil when proto
	// is the batch's own (see router.protoUse).
	buf *otlpbuf.Buf
	// policyVersion is the policy in force when the batch was routed; audit
	// entries carry it.
	policyVersion string
	// seq names the batch in the journal when journaled.
	seq       uint64
	journaled bool
	// unreadable marks a journaled batch sealed for a tenant shredded
	// since: only dropping it is left.
	unreadable bool
	// ack, with wait_for_delivery, takes the outcome of the batch's one
	// attempt (nil: delivered).
	ack chan error
	// more are the batches a queue joined to this one, sent with it
	// (TenantQueue.gatherBehind); records is this one's own.
	more []batch
}

// backend delivers one tenant's batch. send returns nil, a permanent error
// (consumererror.NewPermanent), or a retryable one, possibly a
// *retryAfterError saying how long the backend asked us to wait.
type backend interface {
	send(ctx context.Context, tenant string, b batch) error
	start(ctx context.Context, host component.Host, r *router) error
	shutdown(ctx context.Context) error
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// localstoreBackend writes to the embedded per-tenant store.
type localstoreBackend struct {
	cfg    *BackendConfig
	name   string
	store  *localstore.Store
	logger *zap.Logger

	stop chan struct{}
	wg   sync.WaitGroup
}

func (l *localstoreBackend) start(_ context.Context, _ component.Host, r *router) error {
	key, err := localstore.LoadMasterKey(l.cfg.MasterKeyFile, l.cfg.MasterKeyEnv)
	if err != nil {
		return fmt.Errorf("backends.%s: %w", l.name, err)
	}
	s, err := localstore.Open(l.cfg.Directory, key)
	if err != nil {
		return fmt.Errorf("backends.%s: %w", l.name, err)
	}
	// A wrong master key fails here, not on the first write minutes
	// after the collector reported ready.
	if err := s.CheckKeys(); err != nil {
		s.Close()
		return fmt.Errorf("backends.%s: %w", l.name, err)
	}
	// After a keys rotate, an operator who replaced the key file need not
	// restart the collector for new tenants to be stored.
	s.SetMasterKeySource(func() ([]byte, error) { return localstore.LoadMasterKey(l.cfg.MasterKeyFile, l.cfg.MasterKeyEnv) })
	if l.cfg.MaxOpenTenants > 0 {
		s.SetMaxOpenTenants(l.cfg.MaxOpenTenants)
	}
	l.store = s
	l.stop = make(chan struct{})
	if l.cfg.RetentionInterval > 0 {
		l.wg.Add(1)
		go l.retentionLoop(r)
	}
	l.wg.Add(1)
	go l.anchorLoop(r)
	return nil
}

// defaultAnchorInterval is anchor_interval's default.
const defaultAnchorInterval = time.Minute

// anchorLoop anchors the audit chains every interval, and once more at
// shutdown so the last batches are anchored too; at the same pace it
// counts the reads other processes recorded in them (readwatch.go).
func (l *localstoreBackend) anchorLoop(r *router) {
	defer l.wg.Done()
	reads := l.watchReads(r)
	every := l.cfg.AnchorInterval
	if every <= 0 {
		every = defaultAnchorInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.anchor(r, false) // the router takes no more batches now
			return
		case <-t.C:
			l.anchor(r, true)
			reads.count(r)
		}
	}
}

// anchor appends the chains' new heads to the anchor log and sends each,
// but _governance's own (which the record itself moves on), to
// _governance, so a copy leaves the host the store is on.
func (l *localstoreBackend) anchor(r *router, governance bool) {
	anchors, err := l.store.Anchors(time.Now())
	if err != nil {
		l.logger.Warn("audit anchors", zap.Error(err))
	}
	if err := l.store.AppendAnchors(anchors); err != nil {
		l.logger.Warn("audit anchors", zap.Error(err))
		return
	}
	if !governance {
		return
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, policy.Governance)
	sl := rl.ScopeLogs().AppendEmpty()
	for _, a := range anchors {
		if a.Tenant == policy.Governance {
			continue
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(a.Time))
		lr.Body().SetStr(fmt.Sprintf("audit anchor: tenant %s chain %s seq %d hash %s", a.Tenant, a.Chain, a.Seq, a.Hash))
		attrs := lr.Attributes()
		attrs.PutStr(AttrAnchorTenant, a.Tenant)
		attrs.PutStr(AttrAnchorChain, a.Chain)
		attrs.PutInt(AttrAnchorSeq, a.Seq)
		attrs.PutStr(AttrAnchorHash, a.Hash)
	}
	if sl.LogRecords().Len() == 0 {
		return
	}
	if err := r.consumeLogs(context.Background(), ld); err != nil {
		l.logger.Warn("audit anchors to _governance", zap.Error(err))
	}
}

// Attributes of the _governance record of an audit anchor; the tenant is
// not under tenant.: the record belongs to _governance.
const (
	AttrAnchorTenant = "audit.anchor.tenant.id"
	AttrAnchorChain  = "audit.anchor.chain"
	AttrAnchorSeq    = "audit.anchor.seq"
	AttrAnchorHash   = "audit.anchor.hash"
)

// retentionLoop deletes each tenant's expired rows every interval, with
// the retention the policy in force gives the tenant (the defaults for the
// pipeline tenants and tenants no longer in the policy).
func (l *localstoreBackend) retentionLoop(r *router) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		pol := r.provider.Policy()
		tenants, err := l.store.Tenants()
		if err != nil {
			l.logger.Warn("retention: list tenants", zap.Error(err))
			continue
		}
		for _, id := range tenants {
			ret := pol.Defaults.Retention
			if tn, ok := pol.Tenant(id); ok {
				ret = tn.Retention
			}
			if _, shredded, _ := l.store.ReadTombstone(id); shredded {
				continue
			}
			if _, err := l.store.ApplyRetention(id, ret, time.Now(), pol.Version); err != nil {
				l.logger.Warn("retention run failed", zap.String("tenant", id), zap.Error(err))
			}
		}
	}
}

func (l *localstoreBackend) send(_ context.Context, tenant string, b batch) error {
	version := b.policyVersion
	var err error
	switch b.signal {
	case policy.SignalLogs:
		err = l.store.WriteLogs(tenant, b.logs, version, joined(b, func(m batch) plog.Logs { return m.logs })...)
	case policy.SignalMetrics:
		err = l.store.WriteMetrics(tenant, b.metrics, version, joined(b, func(m batch) pmetric.Metrics { return m.metrics })...)
	case policy.SignalTraces:
		err = l.store.WriteTraces(tenant, b.traces, version, joined(b, func(m batch) ptrace.Traces { return m.traces })...)
	}
	if errors.Is(err, localstore.ErrShredded) || errors.Is(err, policy.ErrTenantIDBadChars) {
		return consumererror.NewPermanent(err)
	}
	return err
}

// joined is of(m) for each batch m joined to b (b.more), nil if none.
func joined[T any](b batch, of func(batch) T) []T {
	if len(b.more) == 0 {
		return nil
	}
	out := make([]T, len(b.more))
	for i, m := range b.more {
		out[i] = of(m)
	}
	return out
}

func (l *localstoreBackend) shutdown(context.Context) error {
	if l.stop != nil {
		close(l.stop)
		l.wg.Wait()
	}
	if l.store == nil {
		return nil
	}
	return l.store.Close()
}

// otlpHTTPBackend posts OTLP/HTTP protobuf, one request per tenant batch,
// with the tenant in the tenant header.
type otlpHTTPBackend struct{ httpTransport }

func newOTLPHTTPBackend(name string, cfg *BackendConfig) *otlpHTTPBackend {
	return &otlpHTTPBackend{newHTTPTransport(name, cfg)}
}

// size is the batch's size as OTLP protobuf: its marshaled form's length
// when it has one, else a walk.
func (b batch) size() int64 {
	if b.proto != nil {
		return int64(len(b.proto))
	}
	return b.protoSize()
}

// protoSize is the batch's size as OTLP protobuf.
func (b batch) protoSize() int64 {
	switch b.signal {
	case policy.SignalLogs:
		return int64((&plog.ProtoMarshaler{}).LogsSize(b.logs))
	case policy.SignalMetrics:
		return int64((&pmetric.ProtoMarshaler{}).MetricsSize(b.metrics))
	case policy.SignalTraces:
		return int64((&ptrace.ProtoMarshaler{}).TracesSize(b.traces))
	}
	return 0
}

// sizeForQueues sets b.bytes. When marshal is set (a backend of the batch
// sends OTLP protobuf) the batch is marshaled once, here, and its length is
// its size; otherwise only sized. With pool, into reused memory whose first
// reference is the caller's (b.buf). A batch that cannot be marshaled (an
// unknown signal) is only sized: its send reports the error.
func (b *batch) sizeForQueues(marshal, pool bool) {
	if marshal && pool {
		if buf, err := b.marshalPooled(); err == nil {
			b.buf, b.proto, b.bytes = buf, buf.Bytes(), int64(len(buf.Bytes()))
			return
		}
	}
	if marshal {
		if body, err := b.marshalOTLP(); err == nil {
			b.proto, b.bytes = body, int64(len(body))
			return
		}
	}
	b.bytes = b.protoSize()
}

func (b batch) marshalPooled() (*otlpbuf.Buf, error) {
	switch b.signal {
	case policy.SignalLogs:
		return otlpbuf.MarshalLogs(b.logs)
	case policy.SignalMetrics:
		return otlpbuf.MarshalMetrics(b.metrics)
	case policy.SignalTraces:
		return otlpbuf.MarshalTraces(b.traces)
	}
	return nil, fmt.Errorf("unknown signal %q", b.signal)
}

// otlpProto is the batch as an OTLP export request in protobuf: the bytes
// route kept, or marshaled now.
func (b batch) otlpProto() ([]byte, error) {
	if b.proto != nil {
		return b.proto, nil
	}
	return b.marshalOTLP()
}

func (b batch) marshalOTLP() ([]byte, error) {
	switch b.signal {
	case policy.SignalLogs:
		return plogotlp.NewExportRequestFromLogs(b.logs).MarshalProto()
	case policy.SignalMetrics:
		return pmetricotlp.NewExportRequestFromMetrics(b.metrics).MarshalProto()
	case policy.SignalTraces:
		return ptraceotlp.NewExportRequestFromTraces(b.traces).MarshalProto()
	}
	return nil, fmt.Errorf("unknown signal %q", b.signal)
}

func (o *otlpHTTPBackend) send(ctx context.Context, tenant string, b batch) error {
	url := strings.TrimSuffix(o.cfg.Endpoint, "/") + "/v1/" + string(b.signal)
	req, err := o.request(ctx, url, b)
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	return o.do(req, tenant)
}

// request is the POST of b's OTLP protobuf to url. A body in reused memory
// holds its own reference until the transport closes it, which net/http
// may do after the call returned, so the memory cannot become another
// batch's while it is still being written; a retry within the call
// (GetBody) takes another.
func (o *otlpHTTPBackend) request(ctx context.Context, url string, b batch) (*http.Request, error) {
	if b.buf == nil || len(b.proto) == 0 {
		body, err := b.otlpProto()
		if err != nil {
			return nil, err
		}
		return http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	}
	body, err := b.buf.Body()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		_ = body.Close()
		return nil, err
	}
	req.ContentLength = int64(len(b.proto))
	req.GetBody = b.buf.Body
	return req, nil
}

// setTenant puts the backend's id for the tenant in the tenant header. A
// batch for a tenant the backend has no id for (restored from a journal
// written under an older tenant_ids, say) is refused for good.
func setTenant(req *http.Request, cfg *BackendConfig, header, tenant string) error {
	id, ok := cfg.backendTenant(tenant)
	if !ok {
		return consumererror.NewPermanent(&refusal{reason: reasonNoBackendTenantID, err: fmt.Errorf("tenant %s has no id under this backend's tenant_ids", tenant)})
	}
	req.Header.Set(header, id)
	return nil
}

// maxQuoted bounds how much of a response body an error quotes.
const maxQuoted = 1024

// classify turns an HTTP response into nil, a permanent error (4xx other
// than 429) or a retryable one carrying Retry-After. It drains and closes
// the body so the connection is reused.
func classify(resp *http.Response) error {
	defer resp.Body.Close()
	quoted, _ := io.ReadAll(io.LimitReader(resp.Body, maxQuoted))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(quoted)))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return consumererror.NewPermanent(err)
	}
	return &retryAfterError{err: err, after: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or invalid,
// at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return min(time.Duration(min(s, int(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter caps what a backend can ask for (and keeps huge values
// from overflowing); the queue's max_elapsed_time still decides whether to
// wait that long at all.
const maxRetryAfter = time.Hour
