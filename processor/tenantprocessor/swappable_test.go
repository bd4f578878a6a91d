package tenantprocessor

import (
	"sync/atomic"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// swappable is a policy provider whose policy a test can replace.
type swappable struct{ p atomic.Pointer[policy.Policy] }

func (s *swappable) Policy() *policy.Policy { return s.p.Load() }
