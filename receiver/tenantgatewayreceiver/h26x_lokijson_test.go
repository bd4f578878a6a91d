package tenantgatewayreceiver

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestH26xLokiJSONRefusesALabelGivenTwice: a Loki JSON push naming a
// stream label or a structured metadata label twice is refused with 400,
// as the protobuf push is (TestLabelSetsAreCheckedBeforeTheyAreBuilt);
// encoding/json kept the last value silently, also for a name spelled
// with an escape (j\u006fb is job).
func TestH26xLokiJSONRefusesALabelGivenTwice(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	for _, tt := range []struct{ name, body, want string }{
		{"stream label", `{"streams":[{"stream":{"job":"a","job":"b"},"values":[["1","x"]]}]}`, `streams[0].stream: label name "job" given twice`},
		{"stream label escaped", `{"streams":[{"stream":{"job":"a","j\u006fb":"b"},"values":[["1","x"]]}]}`, `streams[0].stream: label name "job" given twice`},
		{"metadata label", `{"streams":[{"stream":{"job":"a"},"values":[["1","x",{"k":"1","k":"2"}]]}]}`, `streams[0].values[0][2]: label name "k" given twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(t, "/loki/api/v1/push", keyAcme, []byte(tt.body), "Content-Type", ctJSON)
			assert.Equal(t, http.StatusBadRequest, r.status, r.body)
			assert.Contains(t, r.body, tt.want)
		})
	}
	assert.Empty(t, tg.sink.all())
	r := tg.post(t, "/loki/api/v1/push", keyAcme, []byte(`{"streams":[{"stream":{"job":"a","job2":"b"},"values":[["1","x",{"k":"1","k2":"2"}]]}]}`), "Content-Type", ctJSON)
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
}
