package tenantanomalyconnector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/tenancyhq/tenancy/internal/anomaly"
)

// The storage layout: "index" lists the tenants with a baseline, one id a
// line (tenant ids hold no newline); "tenant/<id>" holds that tenant's
// detectors: a format byte, then per signal with a baseline the signal's
// number and the state of each of its features, in signalFeatures order.
const (
	indexKey      = "index"
	tenantPrefix  = "tenant/"
	storageFormat = 1
)

// save writes every baseline; the caller holds flushMu.
func (m *monitor) save(ctx context.Context) error {
	if m.baselines != nil {
		return m.baselines.save(ctx)
	}
	m.mu.Lock()
	all := make([]*tenantSeries, 0, len(m.series))
	for _, s := range m.series {
		all = append(all, s)
	}
	m.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })

	ops := make([]*storage.Operation, 0, len(all)+1)
	ids := make([]string, 0, len(all))
	for _, t := range all {
		b, err := t.marshal()
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.id, err)
		}
		if b == nil {
			continue
		}
		ids = append(ids, t.id)
		ops = append(ops, storage.SetOperation(tenantPrefix+t.id, b))
	}
	ops = append(ops, storage.SetOperation(indexKey, []byte(strings.Join(ids, "\n"))))
	return m.client.Batch(ctx, ops...)
}

// marshal encodes the tenant's detectors; nil when it has none yet.
func (t *tenantSeries) marshal() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b []byte
	for s := range signalCount {
		if !t.sig[s].learnt() {
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, 1+int(signalCount)*(1+len(signalFeatures[signalTraces])*anomaly.StateSize)), storageFormat)
		}
		var err error
		if b, err = t.sig[s].appendBinary(b, s); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// learnt reports whether the series has detectors (an interval closed);
// every signal's first feature is its record count.
func (ss *signalSeries) learnt() bool {
	return ss != nil && ss.det[featRecords] != nil
}

// appendBinary appends the series of signal s as one block of the format:
// its number and the state of each of its features.
func (ss *signalSeries) appendBinary(b []byte, s signal) ([]byte, error) {
	b = append(b, byte(s))
	for _, f := range signalFeatures[s] {
		var err error
		if b, err = ss.det[f].AppendBinary(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// restore loads the baselines saved by save; the caller holds m.mu. It
// returns how many tenants and series came back. A tenant whose record is
// damaged starts fresh; the others are kept.
func (m *monitor) restore(ctx context.Context, v *view) (tenants, series int, err error) {
	idx, err := m.client.Get(ctx, indexKey)
	if err != nil || len(idx) == 0 {
		return 0, 0, err
	}
	ids := strings.Split(string(idx), "\n")
	ops := make([]*storage.Operation, len(ids))
	for i, id := range ids {
		ops[i] = storage.GetOperation(tenantPrefix + id)
	}
	if err := m.client.Batch(ctx, ops...); err != nil {
		return 0, 0, err
	}
	var errs []error
	for i, id := range ids {
		sensitivity := anomaly.DefaultConfig().Sensitivity
		if e, ok := v.tenants[id]; ok {
			sensitivity = e.sensitivity
		}
		sig, err := m.decodeTenant(ops[i].Value, sensitivity)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			continue
		}
		t := m.seriesLocked(id)
		t.mu.Lock()
		for s, ss := range sig {
			if ss != nil {
				t.sig[s] = ss
				series += len(signalFeatures[s])
			}
		}
		t.mu.Unlock()
		tenants++
	}
	return tenants, series, errors.Join(errs...)
}

func (m *monitor) decodeTenant(b []byte, sensitivity float64) (sig [signalCount]*signalSeries, err error) {
	if len(b) == 0 {
		return sig, errors.New("no baseline record")
	}
	if b[0] != storageFormat {
		return sig, fmt.Errorf("baseline format %d, want %d", b[0], storageFormat)
	}
	b = b[1:]
	for len(b) > 0 {
		s := signal(b[0])
		if s >= signalCount {
			return sig, fmt.Errorf("unknown signal %d", s)
		}
		n := len(signalFeatures[s]) * anomaly.StateSize
		if len(b) < 1+n {
			return sig, fmt.Errorf("%s: truncated baseline", signalNames[s])
		}
		ss := newSignalSeries()
		for i, f := range signalFeatures[s] {
			d, err := anomaly.New(m.cfg.detectorConfig(sensitivity))
			if err != nil {
				return sig, err
			}
			off := 1 + i*anomaly.StateSize
			if err := d.UnmarshalBinary(b[off : off+anomaly.StateSize]); err != nil {
				return sig, fmt.Errorf("%s: %w", featureKeys[s][f], err)
			}
			ss.det[f] = d
		}
		sig[s] = ss
		b = b[1+n:]
	}
	return sig, nil
}
