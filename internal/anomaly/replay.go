package anomaly

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tenancyhq/tenancy/internal/seriescsv"
)

// Replay reads a NAB-format CSV (header "timestamp,value") from r, runs one
// Detector over it and writes "timestamp,value,anomaly_score" to w, one row
// per input row in the same order. Malformed input fails with an error
// naming the line.
//
// Rows are scored in arrival (file) order, as the connector scores them: it
// counts a late record into whichever interval is open when it arrives, so
// its detectors never see time go backwards and never wait for stragglers.
// A row whose timestamp is earlier than the one before it (NAB's
// machine_temperature_system_failure repeats an hour) is therefore scored
// where it stands, against everything read so far; reordering within a
// window would delay every score by that window.
func Replay(r io.Reader, w io.Writer, cfg Config) error {
	d, err := New(cfg)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("timestamp,value,anomaly_score\n"); err != nil {
		return err
	}
	err = seriescsv.ReadRows(r, func(line int, ts string, t time.Time, v float64) error {
		score := d.Update(t, v)
		_, err := fmt.Fprintf(bw, "%s,%s,%s\n", ts, strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(score, 'f', 6, 64))
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
