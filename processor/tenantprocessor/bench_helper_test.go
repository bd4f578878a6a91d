package tenantprocessor

import (
	"context"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

func processorhelperNewLogs(fn processorhelper.ProcessLogsFunc) (processor.Logs, error) {
	return processorhelper.NewLogs(context.Background(), processortest.NewNopSettings(metadata.Type), &Config{}, consumertest.NewNop(), fn,
		processorhelper.WithCapabilities(processorCapabilities))
}

var _ = plog.NewLogs
