package tenantfileexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// reasonNoTenant marks resources that reached the exporter without a
// tenant the pipeline stamped: a pipeline without the tenant processor.
const reasonNoTenant = "no_tenant"

type tenantWriter struct {
	dir    string
	signal string

	mu    sync.Mutex
	files map[string]*os.File
}

func newTenantWriter(dir, signal string) *tenantWriter {
	return &tenantWriter{dir: dir, signal: signal, files: map[string]*os.File{}}
}

// partition returns the folder a resource belongs to. Only ids that pass
// the tenant id rules name a folder, so no value can escape the directory.
func partition(attrs pcommon.Map) string {
	v, ok := attrs.Get(identity.AttrTenantID)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	id := v.Str()
	if policy.ValidateTenantID(id) != nil {
		return ""
	}
	if policy.IsReserved(id) && id != policy.Quarantine && id != policy.Governance {
		return ""
	}
	return id
}

func quarantineIfUnstamped(attrs pcommon.Map) string {
	if id := partition(attrs); id != "" {
		return id
	}
	if _, ok := attrs.Get(identity.AttrQuarantineReason); !ok {
		attrs.PutStr(identity.AttrQuarantineReason, reasonNoTenant)
	}
	return policy.Quarantine
}

func (w *tenantWriter) writeLogs(_ context.Context, ld plog.Logs) error {
	parts := map[string]plog.Logs{}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		dst := plog.NewResourceLogs()
		rl.CopyTo(dst)
		t := quarantineIfUnstamped(dst.Resource().Attributes())
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
	parts := map[string]pmetric.Metrics{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		dst := pmetric.NewResourceMetrics()
		md.ResourceMetrics().At(i).CopyTo(dst)
		t := quarantineIfUnstamped(dst.Resource().Attributes())
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
	parts := map[string]ptrace.Traces{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		dst := ptrace.NewResourceSpans()
		td.ResourceSpans().At(i).CopyTo(dst)
		t := quarantineIfUnstamped(dst.Resource().Attributes())
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
