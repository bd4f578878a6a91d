// Package metadatatest checks a component's internal/metadata package and
// README against its metadata.yaml, the way regenerating them with mdatagen
// would. mdatagen v0.165.0 is not served by the module proxy this project
// builds from, so the packages are written by hand in its generated shape,
// and this check is what keeps them from drifting. It is test-only API: call
// Check from a _test.go file of the component.
package metadatatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.yaml.in/yaml/v3"
)

// Metadata is the part of metadata.yaml that mdatagen turns into
// generated_status.go, generated_telemetry.go and the README status table.
type Metadata struct {
	Type          string    `yaml:"type"`
	DisplayName   string    `yaml:"display_name"`
	Description   string    `yaml:"description"`
	GithubProject string    `yaml:"github_project"`
	ScopeName     string    `yaml:"scope_name"`
	Status        Status    `yaml:"status"`
	Telemetry     Telemetry `yaml:"telemetry"`
}

// Status is metadata.yaml's status block.
type Status struct {
	Class               string              `yaml:"class"`
	Stability           map[string][]string `yaml:"stability"`
	Distributions       []string            `yaml:"distributions"`
	Warnings            []string            `yaml:"warnings"`
	DisableCodecovBadge bool                `yaml:"disable_codecov_badge"`
	Codeowners          *Codeowners         `yaml:"codeowners"`
}

// Codeowners is metadata.yaml's status.codeowners block.
type Codeowners struct {
	Active     []string `yaml:"active"`
	Emeritus   []string `yaml:"emeritus"`
	SeekingNew bool     `yaml:"seeking_new"`
}

// Telemetry is metadata.yaml's telemetry block.
type Telemetry struct {
	Metrics map[string]Metric `yaml:"metrics"`
}

// Metric is one self-metric. Exactly one of Sum, Gauge and Histogram is set.
type Metric struct {
	Enabled     bool     `yaml:"enabled"`
	Stability   string   `yaml:"stability"`
	Description string   `yaml:"description"`
	Unit        string   `yaml:"unit"`
	Sum         *Data    `yaml:"sum"`
	Gauge       *Data    `yaml:"gauge"`
	Histogram   *Data    `yaml:"histogram"`
	Attributes  []string `yaml:"attributes"`
}

// Data is the instrument of a metric.
type Data struct {
	ValueType        string    `yaml:"value_type"`
	Monotonic        bool      `yaml:"monotonic"`
	Async            bool      `yaml:"async"`
	BucketBoundaries []float64 `yaml:"bucket_boundaries"`
}

// Load reads a metadata.yaml. Unknown keys are an error, as they are for
// mdatagen, so a misspelt key cannot be silently ignored.
func Load(path string) (Metadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return Metadata{}, err
	}
	defer f.Close()
	var md struct {
		Metadata `yaml:",inline"`
		// mdatagen keys for generated tests, feature gates and the metrics
		// a component emits as data, not checked here.
		Tests              any `yaml:"tests"`
		FeatureGates       any `yaml:"feature_gates"`
		Parent             any `yaml:"parent"`
		SemConvVersion     any `yaml:"sem_conv_version"`
		Attributes         any `yaml:"attributes"`
		ResourceAttributes any `yaml:"resource_attributes"`
		Metrics            any `yaml:"metrics"`
		Events             any `yaml:"events"`
	}
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&md); err != nil {
		return Metadata{}, fmt.Errorf("%s: %w", path, err)
	}
	return md.Metadata, nil
}

// Component is what the component's hand-written metadata package holds.
type Component struct {
	Type      component.Type
	ScopeName string
	// Stability has one entry per signal metadata.yaml lists: the
	// package's <Signal>Stability constants, keyed by the yaml name
	// ("logs", "extension", "traces_to_logs").
	Stability map[string]component.StabilityLevel
	// NewTelemetryBuilder wraps metadata.NewTelemetryBuilder; nil for a
	// component without self-metrics.
	NewTelemetryBuilder func(component.TelemetrySettings) (any, error)
}

// Check compares the component whose package directory the test runs in
// (its metadata.yaml and README.md) with c, and fails t on any drift.
func Check(t *testing.T, c Component) {
	t.Helper()
	md, err := Load("metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("type", func(t *testing.T) {
		if got := c.Type.String(); got != md.Type {
			t.Errorf("metadata.Type is %q, metadata.yaml says %q", got, md.Type)
		}
	})
	t.Run("scope", func(t *testing.T) {
		want := md.ScopeName
		if want == "" {
			var err error
			if want, err = packagePath(); err != nil {
				t.Fatal(err)
			}
		}
		if c.ScopeName != want {
			t.Errorf("metadata.ScopeName is %q, mdatagen would generate %q", c.ScopeName, want)
		}
	})
	t.Run("stability", func(t *testing.T) { checkStability(t, md, c.Stability) })
	t.Run("telemetry", func(t *testing.T) {
		for _, err := range CheckTelemetry(md, c) {
			t.Error(err)
		}
	})
	t.Run("readme", func(t *testing.T) { checkReadme(t, md) })
}

func checkStability(t *testing.T, md Metadata, got map[string]component.StabilityLevel) {
	want := map[string]component.StabilityLevel{}
	for level, signals := range md.Status.Stability {
		var sl component.StabilityLevel
		if err := sl.UnmarshalText([]byte(level)); err != nil {
			t.Fatalf("metadata.yaml: stability %q: %v", level, err)
		}
		for _, s := range signals {
			want[s] = sl
		}
	}
	for s, w := range want {
		if g, ok := got[s]; !ok {
			t.Errorf("metadata.yaml declares %s (%s), the package has no stability for it", s, w)
		} else if g != w {
			t.Errorf("%s stability is %s in the package, %s in metadata.yaml", s, g, w)
		}
	}
	for s := range got {
		if _, ok := want[s]; !ok {
			t.Errorf("the package has a stability for %s, metadata.yaml does not declare it", s)
		}
	}
}

// packagePath is the import path of the package the test runs in, which is
// what mdatagen uses as ScopeName.
func packagePath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for root := dir; ; {
		b, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err == nil {
			for line := range strings.Lines(string(b)) {
				if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					rel, err := filepath.Rel(root, dir)
					if err != nil {
						return "", err
					}
					return strings.TrimSpace(mod) + "/" + filepath.ToSlash(rel), nil
				}
			}
			return "", fmt.Errorf("%s/go.mod has no module line", root)
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", errors.New("no go.mod above " + dir)
		}
		root = parent
	}
}

// FieldName is the TelemetryBuilder field (and Register<FieldName>Callback
// method) mdatagen names after a metric: its name in CamelCase.
func FieldName(metricName string) string {
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(metricName, func(r rune) bool { return r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// instrumentType is the TelemetryBuilder field type mdatagen generates for
// a metric.
func instrumentType(m Metric) (reflect.Type, *Data, error) {
	var d *Data
	n := 0
	for _, x := range []*Data{m.Sum, m.Gauge, m.Histogram} {
		if x != nil {
			d, n = x, n+1
		}
	}
	if n != 1 {
		return nil, nil, errors.New("needs exactly one of sum, gauge and histogram")
	}
	var prefix string
	switch d.ValueType {
	case "int":
		prefix = "Int64"
	case "double":
		prefix = "Float64"
	default:
		return nil, nil, fmt.Errorf("value_type %q is neither int nor double", d.ValueType)
	}
	var kind string
	switch {
	case m.Sum != nil && d.Monotonic:
		kind = "Counter"
	case m.Sum != nil:
		kind = "UpDownCounter"
	case m.Gauge != nil:
		kind = "Gauge"
	default:
		if d.Async {
			return nil, nil, errors.New("a histogram cannot be async")
		}
		kind = "Histogram"
	}
	if d.Async {
		kind = "Observable" + kind
	}
	t, ok := instrumentTypes[prefix+kind]
	if !ok {
		return nil, nil, fmt.Errorf("no instrument %s%s", prefix, kind)
	}
	return t, d, nil
}

var instrumentTypes = map[string]reflect.Type{
	"Int64Counter":                   reflect.TypeFor[metric.Int64Counter](),
	"Int64UpDownCounter":             reflect.TypeFor[metric.Int64UpDownCounter](),
	"Int64Gauge":                     reflect.TypeFor[metric.Int64Gauge](),
	"Int64Histogram":                 reflect.TypeFor[metric.Int64Histogram](),
	"Int64ObservableCounter":         reflect.TypeFor[metric.Int64ObservableCounter](),
	"Int64ObservableUpDownCounter":   reflect.TypeFor[metric.Int64ObservableUpDownCounter](),
	"Int64ObservableGauge":           reflect.TypeFor[metric.Int64ObservableGauge](),
	"Float64Counter":                 reflect.TypeFor[metric.Float64Counter](),
	"Float64UpDownCounter":           reflect.TypeFor[metric.Float64UpDownCounter](),
	"Float64Gauge":                   reflect.TypeFor[metric.Float64Gauge](),
	"Float64Histogram":               reflect.TypeFor[metric.Float64Histogram](),
	"Float64ObservableCounter":       reflect.TypeFor[metric.Float64ObservableCounter](),
	"Float64ObservableUpDownCounter": reflect.TypeFor[metric.Float64ObservableUpDownCounter](),
	"Float64ObservableGauge":         reflect.TypeFor[metric.Float64ObservableGauge](),
}

// CheckTelemetry builds the component's TelemetryBuilder against an SDK
// reader, records or observes every instrument once (a sync one through
// its field, an async one through Register<Field>Callback), collects, and
// returns every difference from metadata.yaml: missing or extra fields,
// field types (sync or async, sum, gauge or histogram, monotonic, value
// type), and the name, description, unit, scope and data kind the
// collector exports.
func CheckTelemetry(md Metadata, c Component) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NewTelemetryBuilder == nil {
		if len(md.Telemetry.Metrics) > 0 {
			fail("metadata.yaml declares %d self-metrics, the package has no TelemetryBuilder", len(md.Telemetry.Metrics))
		}
		return errs
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	set := componenttest.NewNopTelemetrySettings()
	set.MeterProvider = mp
	b, err := c.NewTelemetryBuilder(set)
	if err != nil {
		return []error{fmt.Errorf("NewTelemetryBuilder: %w", err)}
	}
	bv := reflect.ValueOf(b)
	if bv.Kind() != reflect.Pointer || bv.Elem().Kind() != reflect.Struct {
		return []error{fmt.Errorf("NewTelemetryBuilder returned %T, not a *TelemetryBuilder", b)}
	}
	ctx := context.Background()
	want := map[string]Metric{}   // by exported name
	recorded := map[string]bool{} // exported names recorded or observed once
	for name, m := range md.Telemetry.Metrics {
		want["otelcol_"+name] = m
		field := FieldName(name)
		wantType, d, err := instrumentType(m)
		if err != nil {
			fail("metadata.yaml: %s: %v", name, err)
			continue
		}
		fv := bv.Elem().FieldByName(field)
		if !fv.IsValid() {
			fail("TelemetryBuilder has no field %s for %s", field, name)
			continue
		}
		if fv.Type() != wantType {
			fail("TelemetryBuilder.%s is %s, metadata.yaml makes it %s", field, fv.Type(), wantType)
			continue
		}
		if fv.IsNil() {
			fail("TelemetryBuilder.%s is nil after NewTelemetryBuilder", field)
			continue
		}
		recorded["otelcol_"+name] = true
		if d.Async {
			if err := registerOnce(bv, field, d.ValueType); err != nil {
				fail("%s: %v", name, err)
				delete(recorded, "otelcol_"+name)
			}
			continue
		}
		// Counters and up-down counters add, gauges and histograms record.
		switch inst := fv.Interface().(type) {
		case interface {
			Add(context.Context, int64, ...metric.AddOption)
		}:
			inst.Add(ctx, 1)
		case interface {
			Record(context.Context, int64, ...metric.RecordOption)
		}:
			inst.Record(ctx, 1)
		case interface {
			Add(context.Context, float64, ...metric.AddOption)
		}:
			inst.Add(ctx, 1)
		case interface {
			Record(context.Context, float64, ...metric.RecordOption)
		}:
			inst.Record(ctx, 1)
		}
	}
	isInstrument := map[reflect.Type]bool{}
	for _, t := range instrumentTypes {
		isInstrument[t] = true
	}
	for f := range bv.Elem().Type().Fields() {
		if f.IsExported() && isInstrument[f.Type] && metricOfField(f.Name, md.Telemetry.Metrics) == "" {
			fail("TelemetryBuilder.%s is not declared in metadata.yaml", f.Name)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fail("collect: %v", err)
	}
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, got := range sm.Metrics {
			m, ok := want[got.Name]
			if !ok {
				fail("the builder exports %s, metadata.yaml has no %s", got.Name, strings.TrimPrefix(got.Name, "otelcol_"))
				continue
			}
			seen[got.Name] = true
			if sm.Scope.Name != c.ScopeName {
				fail("%s is exported under scope %q, not ScopeName %q", got.Name, sm.Scope.Name, c.ScopeName)
			}
			if wantDesc := description(m); got.Description != wantDesc {
				fail("%s: description in code %q, in metadata.yaml %q", got.Name, got.Description, wantDesc)
			}
			if got.Unit != m.Unit {
				fail("%s: unit in code %q, in metadata.yaml %q", got.Name, got.Unit, m.Unit)
			}
			if err := checkData(got.Data, m); err != nil {
				fail("%s: %v", got.Name, err)
			}
		}
	}
	for name := range recorded {
		if !seen[name] {
			fail("%s: recorded once but not exported", name)
		}
	}
	if s, ok := b.(interface{ Shutdown() }); ok {
		s.Shutdown()
	} else {
		fail("TelemetryBuilder has no Shutdown()")
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// metricOfField finds the metric whose FieldName is field ("" if none).
func metricOfField(field string, metrics map[string]Metric) string {
	for name := range metrics {
		if FieldName(name) == field {
			return name
		}
	}
	return ""
}

// description is what mdatagen puts in WithDescription: the yaml text,
// with the metric's stability appended when it declares one.
func description(m Metric) string {
	if m.Stability == "" {
		return m.Description
	}
	return fmt.Sprintf("%s [%s]", m.Description, strings.ToUpper(m.Stability[:1])+m.Stability[1:])
}

// registerOnce calls Register<field>Callback with a callback that observes
// 1, as mdatagen's builder expects an async instrument's owner to do.
func registerOnce(bv reflect.Value, field, valueType string) error {
	method := bv.MethodByName("Register" + field + "Callback")
	if !method.IsValid() {
		return fmt.Errorf("TelemetryBuilder has no Register%sCallback", field)
	}
	var cb any
	if valueType == "int" {
		cb = metric.Int64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(1); return nil })
	} else {
		cb = metric.Float64Callback(func(_ context.Context, o metric.Float64Observer) error { o.Observe(1); return nil })
	}
	arg := reflect.ValueOf(cb)
	if method.Type().NumIn() != 1 || method.Type().In(0) != arg.Type() {
		return fmt.Errorf("Register%sCallback takes %s, mdatagen's takes (%s)", field, method.Type(), arg.Type())
	}
	out := method.Call([]reflect.Value{arg})
	if len(out) != 1 {
		return fmt.Errorf("Register%sCallback returns %d values, mdatagen's returns error", field, len(out))
	}
	if err, _ := out[0].Interface().(error); err != nil {
		return err
	}
	return nil
}

// checkData compares the exported data with the yaml instrument: the
// kind, monotonicity and cumulative temporality the collector exports, and
// the one value recorded.
func checkData(data metricdata.Aggregation, m Metric) error {
	isInt := func(d *Data) bool { return d.ValueType == "int" }
	switch {
	case m.Sum != nil && isInt(m.Sum):
		s, ok := data.(metricdata.Sum[int64])
		if !ok {
			return fmt.Errorf("exported as %T, metadata.yaml declares an int sum", data)
		}
		return sumOK(s.IsMonotonic, s.Temporality, len(s.DataPoints), m.Sum.Monotonic)
	case m.Sum != nil:
		s, ok := data.(metricdata.Sum[float64])
		if !ok {
			return fmt.Errorf("exported as %T, metadata.yaml declares a double sum", data)
		}
		return sumOK(s.IsMonotonic, s.Temporality, len(s.DataPoints), m.Sum.Monotonic)
	case m.Gauge != nil && isInt(m.Gauge):
		if _, ok := data.(metricdata.Gauge[int64]); !ok {
			return fmt.Errorf("exported as %T, metadata.yaml declares an int gauge", data)
		}
	case m.Gauge != nil:
		if _, ok := data.(metricdata.Gauge[float64]); !ok {
			return fmt.Errorf("exported as %T, metadata.yaml declares a double gauge", data)
		}
	case m.Histogram != nil && isInt(m.Histogram):
		h, ok := data.(metricdata.Histogram[int64])
		if !ok {
			return fmt.Errorf("exported as %T, metadata.yaml declares an int histogram", data)
		}
		return boundsOK(h.DataPoints[0].Bounds, m.Histogram.BucketBoundaries)
	case m.Histogram != nil:
		h, ok := data.(metricdata.Histogram[float64])
		if !ok {
			return fmt.Errorf("exported as %T, metadata.yaml declares a double histogram", data)
		}
		return boundsOK(h.DataPoints[0].Bounds, m.Histogram.BucketBoundaries)
	}
	return nil
}

func sumOK(monotonic bool, temp metricdata.Temporality, points int, wantMonotonic bool) error {
	if monotonic != wantMonotonic {
		return fmt.Errorf("exported monotonic=%t, metadata.yaml says monotonic: %t", monotonic, wantMonotonic)
	}
	if temp != metricdata.CumulativeTemporality {
		return fmt.Errorf("exported with %s temporality", temp)
	}
	if points != 1 {
		return fmt.Errorf("%d data points after one measurement", points)
	}
	return nil
}

func boundsOK(got, want []float64) error {
	if len(want) > 0 && !slices.Equal(got, want) {
		return fmt.Errorf("bucket boundaries %v, metadata.yaml says %v", got, want)
	}
	return nil
}
