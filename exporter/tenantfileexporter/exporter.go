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
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
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

// partition returns the folder a resource belongs to: its tenant when the
// policy declares it and it is active, the pipeline's _quarantine or
// _governance, and else _quarantine, the resource rewritten there with
// the reason. Only ids that pass the tenant id rules name a folder, so no
// value can escape the directory.
func partition(pol *policy.Policy, attrs pcommon.Map) string {
	id, reason := identity.Partition(pol, attrs)
	if id == "" {
		identity.Quarantine(attrs, reason)
		id = policy.Quarantine
	}
	return id
}

func (w *tenantWriter) writeLogs(_ context.Context, ld plog.Logs) error {
	pol := w.provider.Policy()
	parts := map[string]plog.Logs{}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		dst := plog.NewResourceLogs()
		rl.CopyTo(dst)
		t := partition(pol, dst.Resource().Attributes())
		out, ok := parts[t]
		if !ok {
			out = plog.NewLogs()
			parts[t] = out
		}
		dst.MoveTo(out.ResourceLogs().AppendEmpty())
	}
	m := &plog.JSONMarshaler{}
	lines := make(map[string]func() ([]byte, error), len(parts))
	for t, p := range parts {
		lines[t] = func() ([]byte, error) { return m.MarshalLogs(p) }
	}
	return w.writeParts(lines)
}

func (w *tenantWriter) writeMetrics(_ context.Context, md pmetric.Metrics) error {
	pol := w.provider.Policy()
	parts := map[string]pmetric.Metrics{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		dst := pmetric.NewResourceMetrics()
		md.ResourceMetrics().At(i).CopyTo(dst)
		t := partition(pol, dst.Resource().Attributes())
		out, ok := parts[t]
		if !ok {
			out = pmetric.NewMetrics()
			parts[t] = out
		}
		dst.MoveTo(out.ResourceMetrics().AppendEmpty())
	}
	m := &pmetric.JSONMarshaler{}
	lines := make(map[string]func() ([]byte, error), len(parts))
	for t, p := range parts {
		lines[t] = func() ([]byte, error) { return m.MarshalMetrics(p) }
	}
	return w.writeParts(lines)
}

func (w *tenantWriter) writeTraces(_ context.Context, td ptrace.Traces) error {
	pol := w.provider.Policy()
	parts := map[string]ptrace.Traces{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		dst := ptrace.NewResourceSpans()
		td.ResourceSpans().At(i).CopyTo(dst)
		t := partition(pol, dst.Resource().Attributes())
		out, ok := parts[t]
		if !ok {
			out = ptrace.NewTraces()
			parts[t] = out
		}
		dst.MoveTo(out.ResourceSpans().AppendEmpty())
	}
	m := &ptrace.JSONMarshaler{}
	lines := make(map[string]func() ([]byte, error), len(parts))
	for t, p := range parts {
		lines[t] = func() ([]byte, error) { return m.MarshalTraces(p) }
	}
	return w.writeParts(lines)
}

// writeParts writes one line per tenant, each to that tenant's file only.
// Marshalling happens before the lock, so tenants' writes wait only on
// the file appends.
func (w *tenantWriter) writeParts(parts map[string]func() ([]byte, error)) error {
	type line struct {
		tenant string
		data   []byte
	}
	var lines []line
	var errs []error
	for t, marshal := range parts {
		b, err := marshal()
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
			continue
		}
		lines = append(lines, line{t, append(b, '\n')})
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
