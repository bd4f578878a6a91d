// Package tenantkafka is what the router's kafka backend and the
// tenantkafka receiver share: the franz-go client settings (brokers, TLS,
// SASL, client id), the topic template that binds a topic to a tenant and
// a signal, and the record headers the edge writes.
package tenantkafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
)

// Record headers the edge writes on every message. The processing tier
// takes the tenant from the topic (or, with one topic per signal, the
// record key), never from these: they are for people and tools reading
// the topic.
const (
	HeaderTenant        = "tenancy.tenant"
	HeaderFingerprint   = "tenancy.fingerprint"
	HeaderPolicyVersion = "tenancy.policy_version"
	HeaderSignal        = "tenancy.signal"
)

// ClientConfig is how a component reaches the brokers, under the keys a
// Kafka user expects from contrib's kafka components.
type ClientConfig struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `mapstructure:"brokers"`
	// ClientID names this client to the brokers (quotas, logs).
	ClientID string `mapstructure:"client_id"`
	// TLS, when set, connects over TLS (CA, client certificate); unset
	// is plaintext.
	TLS *configtls.ClientConfig `mapstructure:"tls"`
	// SASL, when set, authenticates with PLAIN or SCRAM.
	SASL *SASLConfig `mapstructure:"sasl"`
	// DialTimeout bounds one connection attempt; 0 is franz-go's 10s.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
}

// SASLConfig is a SASL login.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	// Password: keep it out of the file (${env:...}).
	Password configopaque.String `mapstructure:"password"`
}

// SASL mechanisms.
var mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Check checks the client settings. It is not named Validate: the
// collector validates every struct with a Validate method it reaches,
// and a component embedding this one calls Check from its own Validate,
// with its own key path. tls validates itself (configtls).
func (c *ClientConfig) Check() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: name at least one broker (host:port)"))
	}
	for i, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("brokers[%d]: want host:port, found %q", i, b))
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, errors.New("dial_timeout: must not be negative"))
	}
	if s := c.SASL; s != nil {
		if !slices.Contains(mechanisms, s.Mechanism) {
			errs = append(errs, fmt.Errorf("sasl.mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, found %q", s.Mechanism))
		}
		if s.Username == "" || s.Password == "" {
			errs = append(errs, errors.New("sasl: username and password are required"))
		}
	}
	return errors.Join(errs...)
}

// Opts are the franz-go options of the connection settings.
func (c *ClientConfig) Opts(ctx context.Context) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	if c.DialTimeout > 0 {
		opts = append(opts, kgo.DialTimeout(c.DialTimeout))
	}
	if c.TLS != nil {
		tc, err := c.TLS.LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		if tc != nil {
			opts = append(opts, kgo.DialTLSConfig(tc))
		}
	}
	if s := c.SASL; s != nil {
		user, pass := s.Username, string(s.Password)
		switch s.Mechanism {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}
