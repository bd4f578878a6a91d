package tenantgatewayreceiver

import (
	"fmt"
	"strings"
	"testing"
)

// h26xLokiStreamsOfLabels is a Loki PushRequest of streams of n labels
// each, one empty entry each, filling about size bytes.
func h26xLokiStreamsOfLabels(n, size int) []byte {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf(`a%d=""`, i)
	}
	stream := append(pbField(1, []byte("{"+strings.Join(l, ",")+"}")), pbField(2, nil)...)
	return pbRepeat(1, size/(len(stream)+4), func(int) []byte { return stream })
}

func BenchmarkH26xLokiLabelSets(b *testing.B) {
	for _, n := range []int{10, 128, maxLabelSet} {
		body := h26xLokiStreamsOfLabels(n, 4<<20)
		cost, flaw := protoScan(lokiPush.schema, body, 1<<62)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.Logf("%d bytes, cost %d (%.1f x), %v", len(body), cost, float64(cost)/float64(4<<20), flaw)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := decodeLokiProto(body, decodeLimits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
