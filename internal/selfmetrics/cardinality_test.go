package selfmetrics

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// CardinalityLimit reads the variable as the SDK does: a meter provider
// built under each setting keeps min(limit, series) series of an
// instrument with more, folding the rest into one overflow series, or all
// of them when there is no cap.
func TestCardinalityLimitIsTheSDKs(t *testing.T) {
	const series = 3000
	for _, c := range []struct {
		env  string
		want int
	}{{"", 2000}, {"junk", 2000}, {" 2500 ", 2500}, {"0", 0}, {"-1", 0}, {"100", 100}} {
		t.Run(fmt.Sprintf("%q", c.env), func(t *testing.T) {
			t.Setenv(CardinalityLimitEnv, c.env)
			if got := CardinalityLimit(); got != c.want {
				t.Fatalf("CardinalityLimit() = %d, want %d", got, c.want)
			}
			kept, folded := collectTenants(t, series)
			want := series
			if c.want > 0 && c.want < series {
				want = c.want - 1 // the overflow series takes the last place
			}
			if kept != want || folded != (want < series) {
				t.Fatalf("the SDK kept %d tenants (overflow %v), want %d", kept, folded, want)
			}
		})
	}
}

// collectTenants observes a gauge for n tenants through a fresh meter
// provider and returns how many tenants' series it kept and whether it
// made an overflow series.
func collectTenants(t *testing.T, n int) (kept int, overflow bool) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	g, err := mp.Meter("test").Int64ObservableGauge("tenant_info")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mp.Meter("test").RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for i := range n {
			o.ObserveInt64(g, 1, metric.WithAttributes(attribute.String("tenant", fmt.Sprintf("t%05d", i))))
		}
		return nil
	}, g); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, p := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Gauge[int64]).DataPoints {
		if p.Attributes.HasValue("otel.metric.overflow") {
			overflow = true
			continue
		}
		kept++
	}
	return kept, overflow
}
