package tenantgatewayreceiver

import "github.com/tenancyhq/tenancy/internal/policy"

// h31Embedding wraps a tenantpolicy extension by embedding it as a
// policy.Authenticator, so it inherits AuthenticatesByPolicyAlone, and
// adds a check of its own (h30Switchable's switch):
// TestH30GRPCOtherAuthenticatorsDecideAtTheCall.
type h31Embedding struct {
	policy.Authenticator
	*h30Switchable
}
