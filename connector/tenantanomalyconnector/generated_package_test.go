// Written by hand as mdatagen v0.165.0 generates it: no test may leave a
// goroutine behind (the ticker, the storage client).

package tenantanomalyconnector

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
