package tenantgatewayreceiver

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
)

// The encodings the gateway decodes itself, with per-tenant limits; the
// names are confighttp's compression_algorithms values.
var supportedEncodings = []string{"", "gzip", "zstd", "zlib", "deflate", "snappy", "x-snappy-framed"}

// Config of the tenantgateway receiver.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, tls (and client_ca_file for
	// mTLS), cors, auth (normally {authenticator: tenantpolicy}),
	// include_metadata, max_request_body_size (a cap for every tenant) and
	// compression_algorithms (which Content-Encodings are accepted; the
	// gateway decodes them itself so each tenant's limits apply).
	confighttp.ServerConfig `mapstructure:",squash"`
	// Policy is the id of the tenantpolicy extension that serves the limits
	// (and client certificate fingerprints for mTLS).
	Policy component.ID `mapstructure:"policy"`
	// GRPC optionally serves OTLP/gRPC too, with its own endpoint, tls and
	// auth (normally the same authenticator), under the same limits. Off
	// unless the block is present.
	GRPC configoptional.Optional[configgrpc.ServerConfig] `mapstructure:"grpc"`
	// MaxInFlightBytes bounds, across every tenant, the memory the
	// requests being decoded may take at once (HTTP and OTLP/gRPC): each
	// counts its body and what the cost check says decoding it takes. A
	// request that would go over is refused with 503 and Retry-After
	// (gRPC: Unavailable with RetryInfo; reason gateway_busy), one over it
	// alone with 413 (InvalidArgument). Per-tenant limits bound one
	// tenant; this bounds many at once. 0 turns it off.
	MaxInFlightBytes int64 `mapstructure:"max_in_flight_bytes"`
}

// defaultMaxInFlightBytes: 1 GiB, about 25 ordinary OTLP requests of the
// default 4 MiB limit decoding at once (6 times their size), or 8 of the
// costliest a tenant may send (32 times).
const defaultMaxInFlightBytes = 1 << 30

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set (host:port)"))
	}
	if c.Policy.Type().String() == "" {
		errs = append(errs, errors.New("policy: must name the tenantpolicy extension"))
	}
	for i, enc := range c.CompressionAlgorithms {
		if !contains(supportedEncodings, enc) {
			errs = append(errs, fmt.Errorf("compression_algorithms[%d]: %q is not one of %q", i, enc, supportedEncodings))
		}
	}
	if c.MaxRequestBodySize < 0 {
		errs = append(errs, errors.New("max_request_body_size: must not be negative"))
	}
	if c.MaxInFlightBytes < 0 {
		errs = append(errs, errors.New("max_in_flight_bytes: must not be negative (0 turns the bound off)"))
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
