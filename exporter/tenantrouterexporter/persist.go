package tenantrouterexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// journal keeps every queued batch in a storage extension (file_storage)
// until its queue settles it, so batches accepted before a crash or a
// restart are sent after it. Each (tenant, backend) queue has its own
// index of pending batches; a registry lists the queues. A batch is
// written before it is queued and deleted once delivered or refused for
// good.
type journal struct {
	client storage.Client
	// seal encrypts each batch with its tenant's data key; nil writes
	// them in clear (no localstore backend holds tenant keys).
	seal sealer

	mu      sync.Mutex
	indexes map[statsKey]*journalIndex
}

type journalIndex struct {
	Next    uint64   `json:"next"`
	Pending []uint64 `json:"pending"`
}

const journalRegistry = "tenantrouter/queues"

func indexKey(k statsKey) string {
	return fmt.Sprintf("tenantrouter/q/%q/%q/index", k.tenant, k.backend)
}

func itemKey(k statsKey, seq uint64) string {
	return fmt.Sprintf("tenantrouter/q/%q/%q/%d", k.tenant, k.backend, seq)
}

func newJournal(c storage.Client, seal sealer) *journal {
	return &journal{client: c, seal: seal, indexes: map[statsKey]*journalIndex{}}
}

// sealer encrypts what belongs to a tenant under the tenant's data key:
// localstore.Store.
type sealer interface {
	Seal(tenant string, aad, data []byte) ([]byte, error)
	Unseal(tenant string, aad, sealed []byte) ([]byte, error)
}

// queueSealer is the store of the first localstore backend (by name):
// queued batches are sealed with the data keys it holds, so they are
// encrypted at rest and unreadable once their tenant is shredded. nil
// without a localstore backend.
func (r *router) queueSealer() sealer {
	for _, name := range sortedKeys(r.backends) {
		if l, ok := r.backends[name].(*localstoreBackend); ok && l.store != nil {
			return l.store
		}
	}
	return nil
}

// shreddedIn names a localstore backend that holds a tombstone for the
// tenant, or "". The pipeline tenants are never shredded.
func (r *router) shreddedIn(tenant string) string {
	if pipelineTenant(tenant) {
		return ""
	}
	for _, name := range sortedKeys(r.backends) {
		if l, ok := r.backends[name].(*localstoreBackend); ok && l.store != nil {
			if _, shredded, _ := l.store.ReadTombstone(tenant); shredded {
				return name
			}
		}
	}
	return ""
}

// errShredded refuses a shredded tenant's batch at every backend.
func errShredded(tenant, store string) error {
	return consumererror.NewPermanent(&refusal{reason: reasonShredded,
		err: fmt.Errorf("tenant %s was crypto-shredded (backend %s); its data is refused until `tenancyctl tenant clear`", tenant, store)})
}

// unlessShredded wraps a backend's send: a batch of a tenant shredded
// since it was queued (in memory or in the journal) is dropped, not sent,
// and so purged from the journal.
func (r *router) unlessShredded(send func(context.Context, string, batch) error) func(context.Context, string, batch) error {
	return func(ctx context.Context, tenant string, b batch) error {
		if store := r.shreddedIn(tenant); store != "" {
			return errShredded(tenant, store)
		}
		if b.unreadable {
			return consumererror.NewPermanent(&refusal{reason: reasonShredded,
				err: fmt.Errorf("a queued batch of tenant %s was sealed under a data key destroyed since (shredded)", tenant)})
		}
		return send(ctx, tenant, b)
	}
}

func (j *journal) registryOps() (*storage.Operation, error) {
	keys := make([][2]string, 0, len(j.indexes))
	for k := range j.indexes {
		keys = append(keys, [2]string{k.tenant, k.backend})
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := bytes.Compare([]byte(a[0]), []byte(b[0])); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a[1]), []byte(b[1]))
	})
	b, err := json.Marshal(keys)
	return storage.SetOperation(journalRegistry, b), err
}

// add writes the batch and its queue's index; it returns the batch's seq.
func (j *journal) add(ctx context.Context, k statsKey, b batch) (uint64, error) {
	data, err := j.encodeBatch(k, b)
	if err != nil {
		return 0, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	idx, ok := j.indexes[k]
	var ops []*storage.Operation
	if !ok {
		idx = &journalIndex{}
		j.indexes[k] = idx
		reg, err := j.registryOps()
		if err != nil {
			return 0, err
		}
		ops = append(ops, reg)
	}
	seq := idx.Next
	idx.Next++
	idx.Pending = append(idx.Pending, seq)
	ib, err := json.Marshal(idx)
	if err != nil {
		return 0, err
	}
	ops = append(ops, storage.SetOperation(itemKey(k, seq), data), storage.SetOperation(indexKey(k), ib))
	if err := j.client.Batch(ctx, ops...); err != nil {
		idx.Pending = idx.Pending[:len(idx.Pending)-1]
		return 0, err
	}
	return seq, nil
}

// remove forgets a settled batch.
func (j *journal) remove(ctx context.Context, k statsKey, seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	idx, ok := j.indexes[k]
	if !ok {
		return nil
	}
	idx.Pending = slices.DeleteFunc(idx.Pending, func(s uint64) bool { return s == seq })
	ib, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return j.client.Batch(ctx, storage.DeleteOperation(itemKey(k, seq)), storage.SetOperation(indexKey(k), ib))
}

// load reads every pending batch, by queue, in the order they were queued.
func (j *journal) load(ctx context.Context) (map[statsKey][]batch, error) {
	reg, err := j.client.Get(ctx, journalRegistry)
	if err != nil || reg == nil {
		return nil, err
	}
	var keys [][2]string
	if err := json.Unmarshal(reg, &keys); err != nil {
		return nil, fmt.Errorf("queue registry: %w", err)
	}
	out := map[statsKey][]batch{}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, kk := range keys {
		k := statsKey{kk[0], kk[1]}
		raw, err := j.client.Get(ctx, indexKey(k))
		if err != nil {
			return nil, err
		}
		idx := &journalIndex{}
		if raw != nil {
			if err := json.Unmarshal(raw, idx); err != nil {
				return nil, fmt.Errorf("queue %s/%s index: %w", k.tenant, k.backend, err)
			}
		}
		j.indexes[k] = idx
		for _, seq := range idx.Pending {
			data, err := j.client.Get(ctx, itemKey(k, seq))
			if err != nil {
				return nil, err
			}
			b, err := j.decodeBatch(k, data)
			if err != nil {
				return nil, fmt.Errorf("queue %s/%s batch %d: %w", k.tenant, k.backend, seq, err)
			}
			b.seq, b.journaled = seq, true
			out[k] = append(out[k], b)
		}
	}
	return out, nil
}

// sealedMagic starts a sealed batch: the magic, the signal, a newline,
// then the sealed plain form. A batch the previous version wrote is the
// plain form itself (it starts with the signal); it is read as it is, and
// sent, so a restart onto this version loses nothing.
const sealedMagic = "\x00tq1\n"

// sealAAD binds a sealed batch to its tenant's queue at its backend.
func sealAAD(k statsKey) []byte { return []byte(indexKey(k)) }

// encodeBatch is the plain form, the signal, the policy version and the
// OTLP protobuf, sealed with the tenant's data key when the journal seals.
func (j *journal) encodeBatch(k statsKey, b batch) ([]byte, error) {
	body, err := b.otlpProto()
	if err != nil {
		return nil, err
	}
	plain := append([]byte(string(b.signal)+"\n"+b.policyVersion+"\n"), body...)
	if j.seal == nil {
		return plain, nil
	}
	sealed, err := j.seal.Seal(k.tenant, sealAAD(k), plain)
	if err != nil {
		return nil, err
	}
	return append([]byte(sealedMagic+string(b.signal)+"\n"), sealed...), nil
}

// decodeBatch reads a batch back. A sealed batch of a tenant shredded
// since cannot be read; it comes back empty, marked unreadable, for the
// queue to drop (unlessShredded) and so purge.
func (j *journal) decodeBatch(k statsKey, data []byte) (batch, error) {
	rest, sealed := bytes.CutPrefix(data, []byte(sealedMagic))
	if !sealed {
		return decodePlain(data)
	}
	sig, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return batch{}, fmt.Errorf("malformed sealed batch of %d bytes", len(data))
	}
	if j.seal == nil {
		return batch{}, errors.New("a sealed batch, and no localstore backend holds the tenant keys to read it")
	}
	plain, err := j.seal.Unseal(k.tenant, sealAAD(k), body)
	if errors.Is(err, localstore.ErrShredded) || errors.Is(err, localstore.ErrUnsealable) {
		// The tenant was shredded (and its id maybe cleared since): the
		// batch is the erased tenant's.
		return batch{signal: policy.Signal(sig), unreadable: true}, nil
	}
	if err != nil {
		return batch{}, err
	}
	return decodePlain(plain)
}

func decodePlain(data []byte) (batch, error) {
	parts := bytes.SplitN(data, []byte("\n"), 3)
	if len(parts) != 3 {
		return batch{}, fmt.Errorf("malformed batch of %d bytes", len(data))
	}
	b := batch{signal: policy.Signal(parts[0]), policyVersion: string(parts[1])}
	switch b.signal {
	case policy.SignalLogs:
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(parts[2]); err != nil {
			return b, err
		}
		b.logs = plog.NewLogs()
		req.Logs().MoveTo(b.logs)
		b.records = b.logs.LogRecordCount()
	case policy.SignalMetrics:
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(parts[2]); err != nil {
			return b, err
		}
		b.metrics = pmetric.NewMetrics()
		req.Metrics().MoveTo(b.metrics)
		b.records = b.metrics.DataPointCount()
	case policy.SignalTraces:
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(parts[2]); err != nil {
			return b, err
		}
		b.traces = ptrace.NewTraces()
		req.Traces().MoveTo(b.traces)
		b.records = b.traces.SpanCount()
	default:
		return b, fmt.Errorf("unknown signal %q", b.signal)
	}
	// An export request is its data's size (kafka_test checks it), so the
	// stored body's length is the batch's size without a walk.
	b.bytes = int64(len(parts[2]))
	return b, nil
}
