package tenantkafkareceiver

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/tenancyhq/tenancy/internal/metadatatest"
	"github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver/internal/metadata"
)

// TestMetadata fails when internal/metadata or the README status table
// drifts from metadata.yaml; it stands in for regenerating them with
// mdatagen, which cannot be installed here.
func TestMetadata(t *testing.T) {
	metadatatest.Check(t, metadatatest.Component{
		Type:      metadata.Type,
		ScopeName: metadata.ScopeName,
		Stability: map[string]component.StabilityLevel{
			"logs":    metadata.LogsStability,
			"metrics": metadata.MetricsStability,
			"traces":  metadata.TracesStability,
		},
		NewTelemetryBuilder: func(set component.TelemetrySettings) (any, error) {
			return metadata.NewTelemetryBuilder(set)
		},
	})
}
