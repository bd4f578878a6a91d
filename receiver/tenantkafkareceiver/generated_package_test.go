// Written by hand as mdatagen v0.165.0 generates it (mdatagen is not
// served by the module proxy this project builds from).

package tenantkafkareceiver

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
