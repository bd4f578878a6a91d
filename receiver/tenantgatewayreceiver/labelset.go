package tenantgatewayreceiver

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxLabelSet bounds a label set (a Loki stream's labels, an entry's
// structured metadata, a remote write series' labels) whatever the
// tenant's max_attributes_per_record (0: no limit): each label is put into
// a pdata map, whose every put searches the map, so a set costs the square
// of its size. 20,000 labels in a 184 KiB body took 0.5 s; a 4 MiB Loki
// push of streams of 1,024 labels each, 1.9 s (h26x's
// BenchmarkH26xLokiLabelSets, loaded machine), and a body's cost grows
// with the size of its sets. 256 is many times what the backends allow
// by default (Loki: 15 labels a stream, 128 metadata entries; Mimir: 30
// labels a series).
const maxLabelSet = 256

// decodeLimits are what a Loki or remote write decoder needs of the
// tenant's limits before it builds anything from a label set.
type decodeLimits struct {
	// maxAttrs is the tenant's max_attributes_per_record (0: none).
	maxAttrs int64
	// maxCost is the memory the conversion may take beyond what the cost
	// check counted: what is left of factor times the tenant's
	// max_decompressed_bytes (0: no bound).
	maxCost, factor int64
	// maxDecoded is the tenant's max_decompressed_bytes (0: none), which
	// bounds what a Loki JSON push may cost (checkLokiJSONCost).
	maxDecoded int64
	// reserve, when set, takes room in max_in_flight_bytes for what a
	// conversion adds beyond the scan's count (remote write's labels
	// copied to each sample), before it converts.
	reserve func(n int64) *httpError
}

// labelLimit is how many labels one set may hold.
func (l decodeLimits) labelLimit() int {
	if l.maxAttrs > 0 && l.maxAttrs < maxLabelSet {
		return int(l.maxAttrs)
	}
	return maxLabelSet
}

// checkLabelCount refuses a set of n labels over labelLimit, before any
// of them is put: such a set would be refused by the attribute count
// after decoding (checkAttributes), at the square of its size.
func (l decodeLimits) checkLabelCount(n int) error {
	if lim := l.labelLimit(); n > lim {
		if int64(lim) == l.maxAttrs {
			return fmt.Errorf("%d labels, over the tenant's max_attributes_per_record %d", n, lim)
		}
		return fmt.Errorf("%d labels, over the %d a label set may hold", n, lim)
	}
	return nil
}

// putLabel puts one label into m as a string attribute, refusing a name
// the set already holds: Loki and Prometheus refuse a label set that
// repeats a name, and a later value must not silently replace an earlier.
func putLabel(m pcommon.Map, name, value string) error {
	// PutStr searches m for name: one search, not a Get before it too (a
	// set costs the square of its size; maxLabelSet bounds it). Where name was
	// there, PutStr replaced its value and the set is refused.
	n := m.Len()
	if m.PutStr(name, value); m.Len() == n {
		return fmt.Errorf("label name %q given twice", quoteAtMost(name, 64))
	}
	return nil
}
