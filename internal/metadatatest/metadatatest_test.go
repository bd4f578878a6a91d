package metadatatest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	"go.yaml.in/yaml/v3"
)

// StatusSection must write byte for byte what mdatagen wrote for three
// upstream components: several levels, an extension, codeowners with
// emeritus and seeking_new, a description, another github_project and no
// codecov badge.
func TestStatusSectionMatchesMdatagen(t *testing.T) {
	for dir, short := range map[string]string{"redaction": "redaction", "healthcheck": "healthcheck", "batch": "batch"} {
		t.Run(dir, func(t *testing.T) {
			md, err := Load(filepath.Join("testdata", dir, "metadata.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", dir, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			if got := StatusSection(md, short) + "\n"; got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.yaml")
	if err := os.WriteFile(path, []byte("type: x\nstatus:\n  clas: processor\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "clas") {
		t.Fatalf("Load = %v, want an error naming the unknown key", err)
	}
}

func TestFieldName(t *testing.T) {
	if got := FieldName("tenantrouter_queue_size"); got != "TenantrouterQueueSize" {
		t.Errorf("FieldName = %q", got)
	}
}

// fakeBuilder has the shape of an mdatagen TelemetryBuilder with one sync
// counter and one async gauge.
type fakeBuilder struct {
	meter         metric.Meter
	mu            sync.Mutex
	registrations []metric.Registration
	FakeSent      metric.Int64Counter
	FakeQueueSize metric.Int64ObservableGauge
}

type observerInt64 struct {
	embedded.Int64Observer
	inst metric.Int64Observable
	obs  metric.Observer
}

func (oi *observerInt64) Observe(v int64, opts ...metric.ObserveOption) {
	oi.obs.ObserveInt64(oi.inst, v, opts...)
}

func (b *fakeBuilder) RegisterFakeQueueSizeCallback(cb metric.Int64Callback) error {
	reg, err := b.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: b.FakeQueueSize, obs: o})
	}, b.FakeQueueSize)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.registrations = append(b.registrations, reg)
	return nil
}

func (b *fakeBuilder) Shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.registrations {
		_ = r.Unregister()
	}
}

const scope = "example.com/fake"

func newFakeBuilder(set component.TelemetrySettings) (any, error) {
	b := &fakeBuilder{meter: set.MeterProvider.Meter(scope)}
	var err error
	if b.FakeSent, err = b.meter.Int64Counter("otelcol_fake_sent",
		metric.WithDescription("Records sent."), metric.WithUnit("{record}")); err != nil {
		return nil, err
	}
	b.FakeQueueSize, err = b.meter.Int64ObservableGauge("otelcol_fake_queue_size",
		metric.WithDescription("Batches queued."), metric.WithUnit("{batch}"))
	return b, err
}

const fakeYAML = `
type: fake
telemetry:
  metrics:
    fake_sent:
      enabled: true
      description: Records sent.
      unit: "{record}"
      sum: {value_type: int, monotonic: true}
    fake_queue_size:
      enabled: true
      description: Batches queued.
      unit: "{batch}"
      gauge: {value_type: int, async: true}
`

func TestCheckTelemetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(string) string
		want string // "" when the check must pass
	}{
		{"matches", func(s string) string { return s }, ""},
		{"description", func(s string) string { return strings.Replace(s, "Records sent.", "Records accepted.", 1) }, `description in code "Records sent.", in metadata.yaml "Records accepted."`},
		{"unit", func(s string) string { return strings.Replace(s, `"{batch}"`, `"{request}"`, 1) }, `unit in code "{batch}"`},
		{"sync declared async", func(s string) string {
			return strings.Replace(s, "monotonic: true}", "monotonic: true, async: true}", 1)
		}, "TelemetryBuilder.FakeSent is metric.Int64Counter, metadata.yaml makes it metric.Int64ObservableCounter"},
		{"gauge declared as sum", func(s string) string {
			return strings.Replace(s, "gauge: {value_type: int, async: true}", "sum: {value_type: int, monotonic: true, async: true}", 1)
		}, "is metric.Int64ObservableGauge, metadata.yaml makes it metric.Int64ObservableCounter"},
		{"value type", func(s string) string {
			return strings.Replace(s, "sum: {value_type: int", "sum: {value_type: double", 1)
		}, "metadata.yaml makes it metric.Float64Counter"},
		{"undeclared field", func(s string) string { return s[:strings.Index(s, "    fake_queue_size:")] }, "TelemetryBuilder.FakeQueueSize is not declared in metadata.yaml"},
		{"missing field", func(s string) string {
			return s + "    fake_retries:\n      enabled: true\n      description: x\n      unit: \"1\"\n      sum: {value_type: int, monotonic: true}\n"
		}, "TelemetryBuilder has no field FakeRetries for fake_retries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var md Metadata
			if err := yaml.Unmarshal([]byte(tc.edit(fakeYAML)), &md); err != nil {
				t.Fatal(err)
			}
			errs := CheckTelemetry(md, Component{ScopeName: scope, NewTelemetryBuilder: newFakeBuilder})
			if tc.want == "" {
				for _, err := range errs {
					t.Error(err)
				}
				return
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("no error contains %q; got %v", tc.want, errs)
		})
	}
}

func TestCheckTelemetryScope(t *testing.T) {
	var md Metadata
	if err := yaml.Unmarshal([]byte(fakeYAML), &md); err != nil {
		t.Fatal(err)
	}
	errs := CheckTelemetry(md, Component{ScopeName: "other", NewTelemetryBuilder: newFakeBuilder})
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), `not ScopeName "other"`) {
		t.Errorf("got %v, want a scope error", errs)
	}
}
