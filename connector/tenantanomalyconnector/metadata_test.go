package tenantanomalyconnector

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/tenancyhq/tenancy/connector/tenantanomalyconnector/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/metadatatest"
)

// The hand-written metadata package and README status section match
// metadata.yaml, as regenerating them with mdatagen would.
func TestMetadata(t *testing.T) {
	metadatatest.Check(t, metadatatest.Component{
		Type:      metadata.Type,
		ScopeName: metadata.ScopeName,
		Stability: map[string]component.StabilityLevel{
			"logs_to_logs":    metadata.LogsToLogsStability,
			"metrics_to_logs": metadata.MetricsToLogsStability,
			"traces_to_logs":  metadata.TracesToLogsStability,
		},
		NewTelemetryBuilder: func(set component.TelemetrySettings) (any, error) {
			return metadata.NewTelemetryBuilder(set)
		},
	})
}
