package tenantgatewayreceiver

import (
	"fmt"
	"net/http"
	"time"
)

// httpError is a refusal: the status, the reason counted in the
// self-metrics, a message naming the problem, and for 429 when to retry.
type httpError struct {
	status     int
	reason     string
	msg        string
	retryAfter time.Duration
}

func (e *httpError) Error() string { return e.msg }

func errBadRequest(reason, format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, reason: reason, msg: fmt.Sprintf(format, args...)}
}

func errTooLarge(format string, args ...any) *httpError {
	return &httpError{status: http.StatusRequestEntityTooLarge, reason: "too_large", msg: fmt.Sprintf(format, args...)}
}

func errRateLimited(reason string, retryAfter time.Duration, format string, args ...any) *httpError {
	return &httpError{status: http.StatusTooManyRequests, reason: reason, retryAfter: retryAfter, msg: fmt.Sprintf(format, args...)}
}

// retryAfterSeconds is the Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
