// Package nab reads the Numenta Anomaly Benchmark (NAB v1.1) corpus and scores
// detector outputs exactly as NAB does: labelled windows, the scaled sigmoid,
// the cost profiles, the corpus-wide threshold sweep and normalisation against
// the null and perfect detectors. It is written from SCORING.md (shipped with
// the data), not from NAB's Python code.
package nab

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the timestamp format of NAB data files.
const TimeLayout = "2006-01-02 15:04:05"

// CostMatrix holds the weights of one scoring profile.
type CostMatrix struct {
	TP float64 `json:"tpWeight"`
	FN float64 `json:"fnWeight"`
	FP float64 `json:"fpWeight"`
	TN float64 `json:"tnWeight"`
}

// Profile is a named cost matrix from config/profiles.json.
type Profile struct {
	Name  string
	Costs CostMatrix
}

// ProfileNames lists the three NAB profiles in the order they are reported.
var ProfileNames = []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}

// DefaultProfiles are the NAB v1.1 profiles, identical to config/profiles.json.
func DefaultProfiles() []Profile {
	return []Profile{
		{"standard", CostMatrix{TP: 1, FN: 1, FP: 0.11, TN: 1}},
		{"reward_low_FP_rate", CostMatrix{TP: 1, FN: 1, FP: 0.22, TN: 1}},
		{"reward_low_FN_rate", CostMatrix{TP: 1, FN: 2, FP: 0.11, TN: 1}},
	}
}

// LoadProfiles reads config/profiles.json and returns the profiles in
// ProfileNames order (unknown extra profiles follow, sorted by name).
func LoadProfiles(path string) ([]Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]struct {
		CostMatrix CostMatrix `json:"CostMatrix"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Profile
	seen := map[string]bool{}
	for _, n := range ProfileNames {
		if p, ok := raw[n]; ok {
			out = append(out, Profile{n, p.CostMatrix})
			seen[n] = true
		}
	}
	var rest []string
	for n := range raw {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	for _, n := range rest {
		out = append(out, Profile{n, raw[n].CostMatrix})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no profiles", path)
	}
	return out, nil
}

// Window is a labelled anomaly window; both ends are inclusive timestamps in
// TimeLayout form that exist in the data file.
type Window struct {
	Start, End string
}

// LoadWindows reads labels/combined_windows.json: relative file name
// ("<category>/<name>.csv") to its windows, in file order.
func LoadWindows(path string) (map[string][]Window, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string][]Window, len(raw))
	for f, ws := range raw {
		list := make([]Window, 0, len(ws))
		for i, w := range ws {
			if len(w) != 2 {
				return nil, fmt.Errorf("%s: %s window %d: want [start, end], got %d values", path, f, i, len(w))
			}
			list = append(list, Window{trimFraction(w[0]), trimFraction(w[1])})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Start < list[j].Start })
		out[f] = list
	}
	return out, nil
}

// trimFraction drops the ".000000" NAB writes after label timestamps.
func trimFraction(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i]
	}
	return s
}

// Series is one NAB data file.
type Series struct {
	Name       string   // "<category>/<name>.csv"
	Timestamps []string // TimeLayout form, as written in the file
	Times      []time.Time
	Values     []float64
}

// ReadSeries parses a NAB data CSV (header "timestamp,value"). Errors name the
// line number.
func ReadSeries(r io.Reader) (*Series, error) {
	s := &Series{}
	err := ReadRows(r, func(line int, ts string, t time.Time, v float64) error {
		s.Timestamps = append(s.Timestamps, ts)
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
		return nil
	})
	return s, err
}

// ReadRows streams a NAB-format CSV ("timestamp,value" header, then rows)
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

// Corpus is the NAB data set: series plus windows.
type Corpus struct {
	Dir     string
	Files   []string // relative names, sorted
	Windows map[string][]Window
}

// OpenCorpus reads the labels under dir (the NAB root holding data/, labels/
// and config/). It checks every labelled file exists.
func OpenCorpus(dir string) (*Corpus, error) {
	w, err := LoadWindows(filepath.Join(dir, "labels", "combined_windows.json"))
	if err != nil {
		return nil, err
	}
	c := &Corpus{Dir: dir, Windows: w}
	for f := range w {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); err != nil {
			return nil, err
		}
		c.Files = append(c.Files, f)
	}
	sort.Strings(c.Files)
	return c, nil
}

// NumWindows is the number of labelled windows in the corpus (116 in v1.1).
func (c *Corpus) NumWindows() int {
	n := 0
	for _, ws := range c.Windows {
		n += len(ws)
	}
	return n
}

// Load reads one data file of the corpus.
func (c *Corpus) Load(name string) (*Series, error) {
	f, err := os.Open(filepath.Join(c.Dir, "data", name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ReadSeries(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.Name = name
	return s, nil
}
