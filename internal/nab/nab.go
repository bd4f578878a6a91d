// Package nab reads the Numenta Anomaly Benchmark (NAB v1.1) corpus and scores
// detector outputs exactly as NAB does: labelled windows, the scaled sigmoid,
// the cost profiles, the corpus-wide threshold sweep and normalisation against
// the null and perfect detectors. It is written from SCORING.md (shipped with
// the data), not from NAB's Python code.
package nab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tenancyhq/tenancy/internal/seriescsv"
)

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
// seriescsv.TimeLayout form that exist in the data file.
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
func (c *Corpus) Load(name string) (*seriescsv.Series, error) {
	f, err := os.Open(filepath.Join(c.Dir, "data", name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := seriescsv.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.Name = name
	return s, nil
}
