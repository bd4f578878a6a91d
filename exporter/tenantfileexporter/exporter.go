package tenantfileexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/tenantsplit"
)

type tenantWriter struct {
	dir      string
	signal   string
	policyID component.ID
	provider policy.Provider

	mu    sync.Mutex
	files map[string]*os.File
}

func newTenantWriter(cfg *Config, signal string) *tenantWriter {
	return &tenantWriter{dir: cfg.Directory, signal: signal, policyID: cfg.Policy, files: map[string]*os.File{}}
}

func (w *tenantWriter) start(_ context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, w.policyID)
	if err != nil {
		return err
	}
	w.provider = prov
	return nil
}

// The write functions split a batch the exporter owns (it declares
// MutatesData). tenantsplit only names folders by ids that pass the tenant
// id rules, so no value can escape the directory.

func (w *tenantWriter) writeLogs(_ context.Context, ld plog.Logs) error {
	m := &plog.JSONMarshaler{}
	return writeParts(w, tenantsplit.Logs(w.provider.Policy(), ld, tenantsplit.ByTenant), m.MarshalLogs)
}

func (w *tenantWriter) writeMetrics(_ context.Context, md pmetric.Metrics) error {
	m := &pmetric.JSONMarshaler{}
	return writeParts(w, tenantsplit.Metrics(w.provider.Policy(), md, tenantsplit.ByTenant), m.MarshalMetrics)
}

func (w *tenantWriter) writeTraces(_ context.Context, td ptrace.Traces) error {
	m := &ptrace.JSONMarshaler{}
	return writeParts(w, tenantsplit.Traces(w.provider.Policy(), td, tenantsplit.ByTenant), m.MarshalTraces)
}

// writeParts writes one line per tenant, each to that tenant's file only.
// Marshalling happens before the lock, so tenants' writes wait only on
// the file appends.
func writeParts[B any](w *tenantWriter, parts []tenantsplit.Part[string, B], marshal func(B) ([]byte, error)) error {
	type line struct {
		tenant string
		data   []byte
	}
	var lines []line
	var errs []error
	for _, p := range parts {
		b, err := marshal(p.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", p.Key, err))
			continue
		}
		lines = append(lines, line{p.Key, append(b, '\n')})
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].tenant < lines[j].tenant })
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range lines {
		f, err := w.file(l.tenant)
		if err == nil {
			_, err = f.Write(l.data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", l.tenant, err))
		}
	}
	return errors.Join(errs...)
}

func (w *tenantWriter) file(tenant string) (*os.File, error) {
	if f, ok := w.files[tenant]; ok {
		return f, nil
	}
	dir := filepath.Join(w.dir, tenant)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, w.signal+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	w.files[tenant] = f
	return f, nil
}

func (w *tenantWriter) shutdown(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for t, f := range w.files {
		errs = append(errs, f.Close())
		delete(w.files, t)
	}
	return errors.Join(errs...)
}
