package tenantprocessor

import (
	"strconv"
	"strings"
	"sync"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// A request's lineage differs from the last one's of the same sender only
// in its id and acceptance time, the first two fields of its JSON, and
// encoding/json's reflection was most of what the processor spent per
// request. lineageTails keeps, per sender (its receiver, proof, address,
// tenant and credential, the collector and policy version), the encoding of what
// follows those two fields; a request's value is then its id and time
// written before that tail: the bytes Lineage.Encode writes
// (TestH18oLineageEncodingIsEncodes).

// lineageHead is how Lineage.Encode begins for a lineage without id or
// time; the tail is what follows it.
const lineageHead = `{"id":"","accepted_unix_nano":0`

// maxLineageTails bounds the tails kept per policy view: a client address
// names its port, so every new connection is a new sender.
const maxLineageTails = 1024

// lineageTails' keys are lineages with neither id, time nor upstream:
// what a sender's lineages share, every field of it, so a field added to
// identity.Lineage is in the key too.
type lineageTails struct {
	mu    sync.Mutex
	tails map[identity.Lineage]string
}

// encode is l.Encode().
func (t *lineageTails) encode(l identity.Lineage) string {
	if l.Upstream != nil || !isHex(l.ID) {
		return l.Encode()
	}
	k := l
	k.ID, k.Accepted = "", 0
	t.mu.Lock()
	tail, ok := t.tails[k]
	t.mu.Unlock()
	if !ok {
		full := k.Encode()
		if !strings.HasPrefix(full, lineageHead) {
			return l.Encode()
		}
		tail = full[len(lineageHead):]
		t.mu.Lock()
		if t.tails == nil || len(t.tails) >= maxLineageTails {
			t.tails = make(map[identity.Lineage]string)
		}
		t.tails[k] = tail
		t.mu.Unlock()
	}
	b := make([]byte, 0, len(`{"id":"","accepted_unix_nano":`)+len(l.ID)+20+len(tail))
	b = append(b, `{"id":"`...)
	b = append(b, l.ID...)
	b = append(b, `","accepted_unix_nano":`...)
	b = strconv.AppendInt(b, l.Accepted, 10)
	b = append(b, tail...)
	return string(b)
}

// isHex reports whether s is hex digits only, which JSON writes as they
// are.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
