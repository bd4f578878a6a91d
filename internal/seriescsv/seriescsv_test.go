package seriescsv

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The header may carry a byte-order mark, extra columns and any column
// order; timestamps come as written, with or without a fraction, or
// RFC 3339.
func TestRead(t *testing.T) {
	in := "\ufeffvalue,note,timestamp\n1.5,a,2015-02-26 21:42:53\n-2,\"b,c\",2015-02-26 21:47:53.000000\n3e2,d,2015-02-26T21:52:53Z\n"
	s, err := Read(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []string{"2015-02-26 21:42:53", "2015-02-26 21:47:53.000000", "2015-02-26T21:52:53Z"}, s.Timestamps)
	assert.Equal(t, []float64{1.5, -2, 300}, s.Values)
	require.Len(t, s.Times, 3)
	for i, want := range []time.Time{
		time.Date(2015, 2, 26, 21, 42, 53, 0, time.UTC),
		time.Date(2015, 2, 26, 21, 47, 53, 0, time.UTC),
		time.Date(2015, 2, 26, 21, 52, 53, 0, time.UTC),
	} {
		assert.True(t, want.Equal(s.Times[i]), "row %d: %s", i, s.Times[i])
	}
	assert.Equal(t, "2015-02-26 21:42:53", s.Times[0].Format(TimeLayout))
}

// Errors name the line of the file, counting the lines inside a quoted
// field, so a user can find the row.
func TestReadRowsErrorsNameTheLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "line 1: empty input",
		"time,v\n":                       "line 1: header",
		"timestamp,value\nyesterday,1\n": "line 2: timestamp",
		"timestamp,value\n2015-02-26 21:42:53,abc\n":                                            "line 2: value",
		"timestamp,value,note\n2015-02-26 21:42:53,1,\"two\nlines\"\n2015-02-26 21:47:53,x,y\n": "line 4: value",
		"timestamp,value\n2015-02-26 21:42:53\n":                                                "line 2: want at least 2 columns",
	} {
		err := ReadRows(strings.NewReader(in), func(int, string, time.Time, float64) error { return nil })
		assert.ErrorContains(t, err, want, "input %q", in)
	}
}

// An error of the row callback stops the read, named by its line.
func TestReadRowsStopsOnCallbackError(t *testing.T) {
	var lines []int
	err := ReadRows(strings.NewReader("timestamp,value\n2015-02-26 21:42:53,1\n2015-02-26 21:47:53,2\n2015-02-26 21:52:53,3\n"),
		func(line int, _ string, _ time.Time, v float64) error {
			lines = append(lines, line)
			if v == 2 {
				return assert.AnError
			}
			return nil
		})
	assert.ErrorIs(t, err, assert.AnError)
	assert.ErrorContains(t, err, "line 3")
	assert.Equal(t, []int{2, 3}, lines)
}
