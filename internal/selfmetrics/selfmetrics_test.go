package selfmetrics

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type pair struct{ a, b atomic.Int64 }

func TestSeriesGetKeepsOneValuePerKey(t *testing.T) {
	var s Series[string, pair]
	var wg sync.WaitGroup
	got := make([]*pair, 8)
	for i := range got {
		wg.Go(func() {
			got[i] = s.Get("acme")
			got[i].a.Add(1)
		})
	}
	wg.Wait()
	for _, p := range got {
		if p != got[0] {
			t.Fatal("Get returned two values for one key")
		}
	}
	s.Get("hooli").b.Add(2)
	seen := map[string][2]int64{}
	s.Range(func(k string, p *pair) { seen[k] = [2]int64{p.a.Load(), p.b.Load()} })
	want := map[string][2]int64{"acme": {8, 0}, "hooli": {0, 2}}
	if len(seen) != len(want) || seen["acme"] != want["acme"] || seen["hooli"] != want["hooli"] {
		t.Errorf("Range saw %v, want %v", seen, want)
	}
}

func TestObserveNonZero(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	var zero, three atomic.Int64
	three.Add(3)
	_, err := mp.Meter("test").Int64ObservableCounter("c", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		ObserveNonZero(o, &zero, attribute.String("tenant", "zero"))
		ObserveNonZero(o, &three, attribute.String("tenant", "three"))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	points := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints
	if len(points) != 1 || points[0].Value != 3 {
		t.Fatalf("points %+v, want only tenant three's 3", points)
	}
	if v, _ := points[0].Attributes.Value("tenant"); v.AsString() != "three" {
		t.Errorf("tenant %q", v.AsString())
	}
}
