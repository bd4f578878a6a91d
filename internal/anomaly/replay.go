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
// Detector over it in order and writes "timestamp,value,anomaly_score" to w.
// Malformed input fails with an error naming the line.
func Replay(r io.Reader, w io.Writer, cfg Config) error {
	d, err := New(cfg)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("timestamp,value,anomaly_score\n"); err != nil {
		return err
	}
	var last time.Time
	err = seriescsv.ReadRows(r, func(line int, ts string, t time.Time, v float64) error {
		if !last.IsZero() && t.Before(last) {
			return fmt.Errorf("timestamp %s is before the previous row's %s", ts, last.Format(seriescsv.TimeLayout))
		}
		last = t
		score := d.Update(t, v)
		_, err := fmt.Fprintf(bw, "%s,%s,%s\n", ts, strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(score, 'f', 6, 64))
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
