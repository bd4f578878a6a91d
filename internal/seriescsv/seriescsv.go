// Package seriescsv reads time series in the CSV form of the Numenta
// Anomaly Benchmark's data files: a "timestamp,value" header, then one row
// per point. The benchmark's scorer (internal/nab) and the detector's replay
// (internal/anomaly) both read it; it holds no scoring.
package seriescsv

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the timestamp format of the data files.
const TimeLayout = "2006-01-02 15:04:05"

// Series is one data file.
type Series struct {
	Name       string   // its name in a corpus, e.g. NAB's "<category>/<name>.csv"
	Timestamps []string // TimeLayout form, as written in the file
	Times      []time.Time
	Values     []float64
}

// Read parses a data CSV (header "timestamp,value"). Errors name the
// line number.
func Read(r io.Reader) (*Series, error) {
	s := &Series{}
	err := ReadRows(r, func(line int, ts string, t time.Time, v float64) error {
		s.Timestamps = append(s.Timestamps, ts)
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
		return nil
	})
	return s, err
}

// ReadRows streams a data CSV ("timestamp,value" header, then rows)
// and calls fn for every row. Extra columns are ignored. Errors name the
// 1-based line number.
func ReadRows(r io.Reader, fn func(line int, ts string, t time.Time, v float64) error) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return errors.New("line 1: empty input, want header timestamp,value")
	}
	if err != nil {
		return fmt.Errorf("line 1: %w", err)
	}
	ti, vi := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "timestamp":
			ti = i
		case "value":
			vi = i
		}
	}
	if ti < 0 || vi < 0 {
		return fmt.Errorf("line 1: header %q must contain timestamp and value columns", strings.Join(header, ","))
	}
	line := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("line %d: %w", pe.Line, pe.Err)
			}
			return fmt.Errorf("line %d: %w", line, err)
		}
		if pl, _ := cr.FieldPos(0); pl > 0 {
			line = pl
		}
		if len(rec) <= ti || len(rec) <= vi {
			return fmt.Errorf("line %d: want at least %d columns, got %d", line, max(ti, vi)+1, len(rec))
		}
		ts := strings.TrimSpace(rec[ti])
		t, err := ParseTime(ts)
		if err != nil {
			return fmt.Errorf("line %d: timestamp %q: %w", line, ts, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[vi]), 64)
		if err != nil {
			return fmt.Errorf("line %d: value %q is not a number", line, rec[vi])
		}
		if err := fn(line, ts, t, v); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// ParseTime accepts NAB's "2006-01-02 15:04:05" (optionally with a fractional
// second) and RFC 3339.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02 15:04:05.999999999", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
