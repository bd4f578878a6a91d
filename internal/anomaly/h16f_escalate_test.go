package anomaly

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRangeAlarmEscalatesWithinRefractory: after an alarm, a value beyond
// the range seen (which now holds the alarm's value) by as much again is
// another event and alarms within the refractory span; one only a little
// beyond it is the same event going on and does not. This is what a
// consumer taking a failed member's tenants over sees: the backlog read
// at once alarms, and a real spike seconds later must alarm too (CI's
// TestEndToEndScaleOutFailover timed out waiting for it).
func TestRangeAlarmEscalatesWithinRefractory(t *testing.T) {
	for name, rules := range map[string]func(*Config){
		"default":            func(*Config) {},
		"without new rules":  func(c *Config) { c.Quiet, c.SurpriseRate = -1, -1 },
		"surprise rule only": func(c *Config) { c.Quiet = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			c.Probation, c.Suppress = 10, 50
			rules(&c)
			d, err := New(c)
			require.NoError(t, err)
			at := time.Unix(0, 0)
			feed := func(v float64) float64 {
				at = at.Add(time.Second)
				return d.Update(at, v)
			}
			for i := range 45 {
				feed(float64(2 + i%3))
			}
			require.Greater(t, feed(40), 0.5, "the backlog read at once")
			for i := range 5 {
				require.Zero(t, feed(float64(2+i%3)))
			}
			// Beyond 40 by more than the margin but less than the range's
			// span: the same event, within the refractory span.
			require.Zero(t, feed(60), "a little beyond the range within the refractory span")
			require.Greater(t, feed(503), 0.5, "a spike beyond the range by more than its span, within the refractory span")
			require.Zero(t, feed(3))
		})
	}
}
