package nab

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tenancyhq/tenancy/internal/seriescsv"
)

// ResultPath is where NAB keeps a detector's output for one data file:
// <dir>/<det>/<category>/<det>_<name>.csv.
func ResultPath(dir, detector, file string) string {
	cat, name := filepath.Split(file)
	return filepath.Join(dir, detector, cat, detector+"_"+name)
}

// WriteResult writes one file's detector output in NAB's results format:
// timestamp,value,anomaly_score,label (label 1 inside a window).
func WriteResult(path string, s *seriescsv.Series, scores []float64, windows []Window) error {
	if len(scores) != len(s.Values) {
		return fmt.Errorf("%s: %d rows but %d scores", path, len(s.Values), len(scores))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "timestamp,value,anomaly_score,label")
	wi, in := 0, false
	for i, ts := range s.Timestamps {
		if !in && wi < len(windows) && ts == windows[wi].Start {
			in = true
		}
		label := 0
		if in {
			label = 1
		}
		fmt.Fprintf(w, "%s,%s,%s,%d\n", ts, strconv.FormatFloat(s.Values[i], 'g', -1, 64),
			strconv.FormatFloat(scores[i], 'g', -1, 64), label)
		if in && ts == windows[wi].End {
			in = false
			wi++
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadResult reads a NAB results CSV and returns its timestamps (fraction
// trimmed) and anomaly scores.
func ReadResult(path string) (ts []string, scores []float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReader(f))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s: empty", path)
	}
	ti, si := -1, -1
	for i, h := range rows[0] {
		switch strings.TrimSpace(h) {
		case "timestamp":
			ti = i
		case "anomaly_score":
			si = i
		}
	}
	if ti < 0 || si < 0 {
		return nil, nil, fmt.Errorf("%s: header must have timestamp and anomaly_score", path)
	}
	for k, r := range rows[1:] {
		if len(r) <= ti || len(r) <= si {
			return nil, nil, fmt.Errorf("%s: line %d: too few columns", path, k+2)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(r[si]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: line %d: anomaly_score %q: %w", path, k+2, r[si], err)
		}
		ts = append(ts, trimFraction(strings.TrimSpace(r[ti])))
		scores = append(scores, v)
	}
	return ts, scores, nil
}

// ReadResults loads a detector's outputs for every corpus file from a NAB
// results directory.
func (c *Corpus) ReadResults(dir, detector string) (map[string][]string, Detections, error) {
	ts := map[string][]string{}
	det := Detections{}
	for _, f := range c.Files {
		t, s, err := ReadResult(ResultPath(dir, detector, f))
		if err != nil {
			return nil, nil, err
		}
		ts[f], det[f] = t, s
	}
	return ts, det, nil
}
