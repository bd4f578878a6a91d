package redact

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestH18oDetectWalksTheSetInOrder: detect over a set finds what each of
// its detectors finds alone, appended in detectors' order, and a bit past
// the last detector names none; the byte tables are their predicates.
func TestH18oDetectWalksTheSetInOrder(t *testing.T) {
	for c := range 256 {
		require.Equal(t, isEmailByte(byte(c)), emailBytes[c], "byte %d", c)
		for di, d := range detectors {
			if d.anchor != 0 {
				require.Equal(t, d.within(byte(c)), withinTabs[di][c], "detector %d byte %d", di, c)
			}
		}
	}
	s := "mail jane.doe.4411@example.com from 10.1.2.3, card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, +1 (415) 555-0100, a@b.co"
	var want []hit
	for di := range detectors {
		want = detect(want, s, 1<<di)
	}
	require.NotEmpty(t, want)
	require.Equal(t, want, detect(nil, s, allDetectors))
	require.Equal(t, want, detect(nil, s, ^detectorSet(0)))
}
