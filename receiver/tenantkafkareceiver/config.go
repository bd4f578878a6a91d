package tenantkafkareceiver

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// Config of the tenantkafka receiver.
type Config struct {
	// ClientConfig: brokers, client_id, tls, sasl, dial_timeout.
	tenantkafka.ClientConfig `mapstructure:",squash"`
	// Topic is the template the edge's kafka backend writes with (default
	// tenancy.{tenant}.{signal}); the receiver consumes every topic it
	// matches, for the signals its pipelines take, and new tenants' topics
	// within topic_refresh_interval. Without {tenant}, the record key (the
	// tenant id the edge wrote) names the tenant.
	Topic string `mapstructure:"topic"`
	// Reserved consumes the pipeline tenants' topics (_quarantine,
	// _governance) instead of the policy tenants'. Their resources are
	// set to the topic's tenant, so nothing in a pipeline tenant's topic
	// can reach a policy tenant's store; their pipeline has no tenant
	// processor, which would quarantine them again as reserved.
	Reserved bool `mapstructure:"reserved"`
	// GroupID is the consumer group: the processing collectors that
	// share it share the topics' partitions.
	GroupID string `mapstructure:"group_id"`
	// InitialOffset is where a partition the group never committed
	// starts: earliest (default; a new tenant's first records are read)
	// or latest.
	InitialOffset string `mapstructure:"initial_offset"`
	// SessionTimeout: a member silent this long is out of the group and
	// its partitions move (default 10s).
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// HeartbeatInterval (default 3s) must be below session_timeout.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// TopicRefreshInterval is how often the topic list is read, so a new
	// tenant's topic is consumed (default 10s).
	TopicRefreshInterval time.Duration `mapstructure:"topic_refresh_interval"`
	// RetryInterval is the wait before offering a batch the pipeline
	// refused with a retryable error again (default 1s). The batch's
	// offset is committed only once the pipeline accepted it.
	RetryInterval time.Duration `mapstructure:"retry_interval"`
	// Policy is the tenantpolicy extension whose declared tenants the
	// receiver's per-tenant series may name (default tenantpolicy; the
	// processing tier's tenant processor needs it too). A topic or key
	// naming any other id is counted under _undeclared: anyone who can
	// write a topic chooses its keys. Not used in reserved mode.
	Policy component.ID `mapstructure:"policy"`
}

// Defaults.
const (
	DefaultGroupID = tenantkafka.DefaultGroupID
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if err := c.ClientConfig.Check(); err != nil {
		errs = append(errs, err)
	}
	t, err := tenantkafka.NewTopics(c.Topic)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("topic: %w", err))
	case c.Reserved && !t.PerTenant():
		errs = append(errs, fmt.Errorf("reserved: topic %q must hold %s to tell the pipeline tenants' topics apart", c.Topic, tenantkafka.PlaceholderTenant))
	}
	if c.GroupID == "" {
		errs = append(errs, errors.New("group_id: must not be empty"))
	}
	if c.InitialOffset != "earliest" && c.InitialOffset != "latest" {
		errs = append(errs, fmt.Errorf("initial_offset: must be earliest or latest, found %q", c.InitialOffset))
	}
	if c.SessionTimeout <= 0 || c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat_interval (%s) must be positive and below session_timeout (%s)", c.HeartbeatInterval, c.SessionTimeout))
	}
	if c.TopicRefreshInterval <= 0 {
		errs = append(errs, errors.New("topic_refresh_interval: must be positive"))
	}
	if c.RetryInterval <= 0 {
		errs = append(errs, errors.New("retry_interval: must be positive"))
	}
	return errors.Join(errs...)
}
