// Package tenantkafkareceiver is the processing tier's entry: it consumes
// the tenant topics the edge's kafka backend writes (tenantrouter), with
// a consumer group, and hands each message to the pipeline marked with
// the tenant its topic belongs to. An offset is committed only after the
// pipeline accepted the message: at-least-once.
package tenantkafkareceiver

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
	"github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver/internal/metadata"
)

// NewFactory returns the factory of the tenantkafka receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
		receiver.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		ClientConfig:         tenantkafka.ClientConfig{Brokers: []string{"127.0.0.1:9092"}},
		Topic:                tenantkafka.DefaultTopic,
		GroupID:              DefaultGroupID,
		InitialOffset:        "earliest",
		SessionTimeout:       10 * time.Second,
		HeartbeatInterval:    3 * time.Second,
		TopicRefreshInterval: 10 * time.Second,
		RetryInterval:        time.Second,
		Policy:               component.MustNewID("tenantpolicy"),
	}
}

// receivers shares one consumer (one group member) between the logs,
// metrics and traces receivers of a config.
var receivers = sharedcomponent.NewMap[*Config, *kafkaReceiver]()

func receiverFor(cfg *Config, set receiver.Settings) (*sharedcomponent.Component[*kafkaReceiver], error) {
	r, err := receivers.LoadOrStore(cfg, func() (*kafkaReceiver, error) { return newReceiver(cfg, set) })
	if err != nil {
		return nil, fmt.Errorf("tenantkafka receiver: %w", err)
	}
	return r, nil
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, err := receiverFor(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	r.Unwrap().logs = next
	return r, nil
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := receiverFor(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	r.Unwrap().metrics = next
	return r, nil
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	r, err := receiverFor(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	r.Unwrap().traces = next
	return r, nil
}
