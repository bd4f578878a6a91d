package localstore

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/pdatacount"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Lineage: the tenant processor writes each accepted request's facts on
// its resources as a tenant.lineage string (internal/identity). The store
// moves them off the resource: each record keeps only the request's id in
// its lineage column, and the lineage table holds one row per request per
// write (a request the batch processor split, or sent to several
// backends, has a row for each part), with the row ids it took here and
// what the pipeline decided on it. A row needs at least one record, so a
// client cannot grow the table faster than its records. Lineage rows are
// data rows: each write's rows are in its audit entry's digest, and
// retention deletes them (accounted for) once their records' time is
// past.

// lineageTable is the lineage table's name.
const lineageTable = "lineage"

// maxLineageFact bounds each fact stored from a tenant.lineage value. The
// tenant processor writes them, but a pipeline without it (a reserved
// pipeline reading a topic) passes what it received.
const maxLineageFact = 256

// lineageFacts is what the tenant processor wrote about one request, and
// its decision on the resources of a part.
type lineageFacts struct {
	id, receiver, client, tenant, auth, credential, collector, policyVersion, decision string
	accepted                                                                           int64
	// upstream is the relaying edge's lineage, as JSON ("" when none).
	upstream string
}

func upstreamOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// cut is l with every fact at most maxLineageFact bytes, one level.
func cut(l identity.Lineage) identity.Lineage {
	t := func(s string) string { return identity.Truncate(s, maxLineageFact) }
	return identity.Lineage{ID: t(l.ID), Accepted: l.Accepted, Receiver: t(l.Receiver), Auth: t(l.Auth), Client: t(l.Client),
		Tenant: t(l.Tenant), Credential: t(l.Credential), Collector: t(l.Collector), PolicyVersion: t(l.PolicyVersion)}
}

// lineageKey groups a batch's resources into parts: one request, one
// decision (a request's resources quarantined for two reasons are two
// parts in the _quarantine store).
type lineageKey struct{ lineage, decision string }

// keyOf is a resource's part, ok false without lineage.
func keyOf(res pcommon.Map) (lineageKey, bool) {
	v, ok := res.Get(identity.AttrLineage)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return lineageKey{}, false
	}
	k := lineageKey{lineage: v.Str(), decision: identity.DecisionAccepted}
	if id, _ := identity.TenantOf(res); id == policy.Quarantine {
		reason := ""
		if r, ok := res.Get(identity.AttrQuarantineReason); ok {
			reason = r.AsString()
		}
		k.decision = identity.DecisionQuarantinedPrefix + identity.Truncate(reason, maxLineageFact)
	}
	return k, true
}

func readLineage(k lineageKey) (lineageFacts, bool) {
	l, ok := parseLineage(k.lineage)
	if !ok || len(l.ID) > 64 {
		return lineageFacts{}, false
	}
	c := cut(l)
	f := lineageFacts{id: c.ID, receiver: c.Receiver, client: c.Client, tenant: c.Tenant, auth: c.Auth,
		credential: c.Credential, collector: c.Collector, policyVersion: c.PolicyVersion, decision: k.decision,
		accepted: c.Accepted}
	if l.Upstream != nil {
		f.upstream = cut(*l.Upstream).Encode()
	}
	return f, true
}

// redactionOf reads the classes the redactor wrote on a record, the one
// audit attribute a record carries, calling classes once per class; it
// reports whether there were any. The values changed are counted on the
// record's resource (resourceRedaction).
func redactionOf(attrs pcommon.Map, classes func(string)) bool {
	cs, ok := identity.RedactionClasses(attrs)
	if !ok {
		return false
	}
	for _, c := range cs.All() {
		classes(identity.Truncate(c.AsString(), maxLineageFact))
	}
	return true
}

// resourceRedaction is the values the redactor changed in a resource, its
// scopes and its records, as it stamped them on the resource.
func resourceRedaction(res pcommon.Map) int64 {
	n, ok := res.Get(identity.AttrRedactionCount)
	if !ok || n.Type() != pcommon.ValueTypeInt || n.Int() < 0 {
		return 0
	}
	return n.Int()
}

// lineagePart is one request's records in one write or delivery.
type lineagePart struct {
	facts lineageFacts
	// rowID is the id its lineage row takes, which its records' lineage
	// column names (0: let SQLite choose; a delivery has no records).
	rowID           int64
	records         int64
	firstID, lastID int64
	// Redaction: values changed, records changed, records per class.
	redactedValues, redactedRecords int64
	classes                         map[string]int64
	// resValues is the values changed in the resource entry being read,
	// added to redactedValues with its first record: an entry without
	// records stores nothing.
	resValues int64
	// Retention: what the resource was stamped with, and the records the
	// retention processor flagged expired or moved back from the future.
	retention, residency, residencyViolation string
	expired, futureSkew                      int64
}

// record adds a record (row id in this store, 0 elsewhere) to the part.
func (p *lineagePart) record(id int64, attrs pcommon.Map) {
	p.records++
	if id != 0 {
		if p.firstID == 0 {
			p.firstID = id
		}
		p.lastID = id
	}
	// resValues is never negative (resourceRedaction); stop at the
	// largest int64 rather than wrap.
	p.redactedValues = min(p.redactedValues, math.MaxInt64-p.resValues) + p.resValues
	p.resValues = 0
	if redactionOf(attrs, func(c string) {
		if p.classes == nil {
			p.classes = map[string]int64{}
		}
		if _, ok := p.classes[c]; ok || len(p.classes) < maxLineageClasses {
			p.classes[c]++
		}
	}) {
		p.redactedRecords++
	}
	if _, ok := attrs.Get(identity.AttrRetentionExpired); ok {
		p.expired++
	}
	if _, ok := attrs.Get(identity.AttrRetentionOriginal); ok {
		p.futureSkew++
	}
}

// maxLineageClasses bounds the classes a lineage row counts.
const maxLineageClasses = 64

// Lineage is the requests of one batch: what a router records in a
// tenant's store when it delivers the batch elsewhere (RecordDelivery).
type Lineage struct {
	parts []*lineagePart
	byKey map[lineageKey]*lineagePart
	// nextRow is the next lineage row id to hand out (0: not read yet).
	nextRow int64
}

// Len is how many requests the batch holds records of.
func (l *Lineage) Len() int { return len(l.parts) }

// resource returns the part of the request res, the attributes of one
// ResourceLogs, ResourceMetrics or ResourceSpans entry, came with, nil for
// a resource without lineage. Call it once per entry, then record for
// each of the entry's records: the values the redactor changed in the
// entry, stamped on its resource, are added to the part with its first
// record.
func (l *Lineage) resource(res pcommon.Map) *lineagePart {
	p := l.part(res)
	if p != nil {
		p.resValues = resourceRedaction(res)
	}
	return p
}

// nextBatch starts another of the batches one write takes (the queue's
// joined batches): a request's records in it are another part, another
// lineage row, as when each batch was a write of its own, so no part's row
// ids span another request's rows between its batches.
func (l *Lineage) nextBatch() { clear(l.byKey) }

// part is resource's part.
func (l *Lineage) part(res pcommon.Map) *lineagePart {
	k, ok := keyOf(res)
	if !ok {
		return nil
	}
	if p, ok := l.byKey[k]; ok {
		return p
	}
	if l.byKey == nil {
		l.byKey = map[lineageKey]*lineagePart{}
	}
	f, ok := readLineage(k)
	if !ok {
		l.byKey[k] = nil // not parsed again
		return nil
	}
	p := &lineagePart{facts: f}
	str := func(k string) string {
		if v, ok := res.Get(k); ok {
			return identity.Truncate(v.AsString(), maxLineageFact)
		}
		return ""
	}
	p.retention, p.residency, p.residencyViolation = str(identity.AttrRetention), str(identity.AttrResidency), str(identity.AttrResidencyViolation)
	l.byKey[k] = p
	l.parts = append(l.parts, p)
	return p
}

// LogsLineage reads the requests of a batch of logs.
func LogsLineage(ld plog.Logs) *Lineage {
	l := &Lineage{}
	for _, rl := range ld.ResourceLogs().All() {
		p := l.resource(rl.Resource().Attributes())
		if p == nil {
			continue
		}
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				p.record(0, lr.Attributes())
			}
		}
	}
	return l
}

// MetricsLineage reads the requests of a batch of metrics.
func MetricsLineage(md pmetric.Metrics) *Lineage {
	l := &Lineage{}
	for _, rm := range md.ResourceMetrics().All() {
		p := l.resource(rm.Resource().Attributes())
		if p == nil {
			continue
		}
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				pdatacount.PointAttributes(m, func(a pcommon.Map) { p.record(0, a) })
			}
		}
	}
	return l
}

// TracesLineage reads the requests of a batch of spans.
func TracesLineage(td ptrace.Traces) *Lineage {
	l := &Lineage{}
	for _, rs := range td.ResourceSpans().All() {
		p := l.resource(rs.Resource().Attributes())
		if p == nil {
			continue
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				p.record(0, sp.Attributes())
			}
		}
	}
	return l
}

const sqlInsertLineage = `INSERT INTO lineage(id, lineage_id, signal, backend, accepted_unix_nano, delivered_unix_nano, records, first_id, last_id,
  receiver, client, tenant, auth, credential, collector, policy_version, decision, redactions, retention, audit_seq, upstream)
  VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// insertLineage writes one row per part with records, backend "" for
// this store, and returns them as a tally for the audit entry, which the
// caller appends next: each row names its seq, so a record leads to the
// entry that accounts for it and to the anchor that covers that. t.mu
// held, in a transaction.
func (t *tenantDB) insertLineage(l *Lineage, signal, backend string, delivered int64) (*RowsTally, error) {
	if l.Len() == 0 {
		return nil, nil
	}
	st, err := t.stmt(sqlInsertLineage)
	if err != nil {
		return nil, err
	}
	head, err := t.auditHead()
	if err != nil {
		return nil, err
	}
	var sum rowSum
	var n int64
	for _, p := range l.parts {
		if p.records == 0 {
			continue
		}
		f := p.facts
		args := []any{f.id, signal, backend, f.accepted, delivered, p.records, idOrNil(p.firstID), idOrNil(p.lastID),
			f.receiver, f.client, f.tenant, f.auth, f.credential, f.collector, f.policyVersion, f.decision, p.redactionsJSON(), p.retentionJSON(), head.seq + 1, upstreamOrNil(f.upstream)}
		row := make([]cell, len(args))
		for i, a := range args {
			row[i] = anyCell(a)
		}
		id := anyCell(idOrNil(p.rowID))
		id.bind(st, 1)
		for i := range row {
			row[i].bind(st, i+2)
		}
		if err := st.Exec(); err != nil {
			return nil, fmt.Errorf("lineage: %w", err)
		}
		n++
		if t.s.noRowDigests {
			continue
		}
		h := t.rowHasher()
		h.begin(lineageTable, t.conn.LastInsertRowID())
		hashCells(h, row)
		h.end(&sum)
	}
	if n == 0 {
		return nil, nil
	}
	return &RowsTally{Rows: n, Digest: sum.String()}, nil
}

func idOrNil(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// redactionsJSON is the part's redactions: {"values":N,"records":N,
// "classes":{"email":records,...}}. Values are what the redactor counted
// on the part's resources (their own attributes, scopes and records);
// records and classes are read from each record, whose attributes say
// which classes it had, so a class counts the records it was redacted in.
func (p *lineagePart) redactionsJSON() string {
	var o jsonObject
	o.int("values", p.redactedValues)
	o.int("records", p.redactedRecords)
	names := make([]string, 0, len(p.classes))
	for c := range p.classes {
		names = append(names, c)
	}
	sort.Strings(names)
	o.object("classes", func(c *jsonObject) {
		for _, n := range names {
			c.int(n, p.classes[n])
		}
	})
	return o.String()
}

// retentionJSON is the retention processor's decision on the part.
func (p *lineagePart) retentionJSON() string {
	var o jsonObject
	for _, kv := range [][2]string{{"retention", p.retention}, {"residency", p.residency}, {"residency_violation", p.residencyViolation}} {
		if kv[1] != "" {
			o.key(kv[0])
			o.b = appendString(o.b, kv[1])
		}
	}
	o.int("expired_flagged", p.expired)
	o.int("future_skew", p.futureSkew)
	return o.String()
}

// RecordDelivery records in the tenant's store that a batch of signal
// with lineage l went to backend at: one lineage row per request, no
// record rows, and a "delivery" audit entry accounting for them. A batch
// without lineage records nothing.
func (s *Store) RecordDelivery(tenant string, signal policy.Signal, l *Lineage, backend string, at time.Time, policyVersion string) error {
	if l.Len() == 0 {
		return nil
	}
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	return t.inTx(func() error {
		tally, err := t.insertLineage(l, string(signal), backend, at.UnixNano())
		if err != nil || tally == nil {
			return err
		}
		_, err = t.appendAudit(at, "delivery", deliveryDetail{Signal: string(signal), Backend: backend, Lineage: tally}, policyVersion)
		return err
	})
}

type deliveryDetail struct {
	Signal  string     `json:"signal"`
	Backend string     `json:"backend"`
	Lineage *RowsTally `json:"lineage"`
}

// lineageTally reads the lineage rows an ingest or delivery entry adds.
func lineageTally(detail string) (*RowsTally, error) {
	var d struct {
		Lineage *RowsTally `json:"lineage"`
	}
	err := json.Unmarshal([]byte(detail), &d)
	return d.Lineage, err
}
