// Package redacteval measures the redaction detectors on public data sets:
// recall and precision per class on Presidio's synthetic PII set, and
// secrets found on leaky-repo scored the way its benchmark.py scores tools.
// The tests of internal/redact and cmd/redacteval share it, so the floors the
// tests assert and the table `make eval-redaction` prints are one measure.
package redacteval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tenancyhq/tenancy/internal/redact"
)

// PresidioFile and LeakyRepoDir are the data sets' places under a pii
// folder (the repository's is testdata/pii).
const (
	PresidioFile = "presidio/synth_dataset_v2.json"
	LeakyRepoDir = "leaky-repo"
)

// PresidioTypes are the Presidio entity types scored, in table order, with
// the classes of ours that count for each.
var PresidioTypes = []struct {
	Type    string
	Classes []string
}{
	{"EMAIL_ADDRESS", []string{"email"}},
	{"CREDIT_CARD", []string{"credit_card"}},
	{"IBAN_CODE", []string{"iban"}},
	{"IP_ADDRESS", []string{"ipv4", "ipv6"}},
	{"US_SSN", []string{"us_ssn"}},
	{"PHONE_NUMBER", []string{"phone"}},
}

// Score counts true positives, false negatives and false positives.
type Score struct{ TP, FN, FP int }

// Recall is TP / (TP + FN).
func (s Score) Recall() float64 { return float64(s.TP) / float64(max(1, s.TP+s.FN)) }

// Precision is TP / (TP + FP).
func (s Score) Precision() float64 { return float64(s.TP) / float64(max(1, s.TP+s.FP)) }

// Miss is one scoring error, for looking at what went wrong.
type Miss struct {
	Type  string
	FP    bool // a finding with no true entity; else a missed entity
	Value string
	Text  string
}

// Presidio scores the detectors on the Presidio file at path. A true entity
// counts as found when a finding of its classes overlaps it; a finding that
// overlaps no true entity of its type is a false positive.
func Presidio(path string) (map[string]*Score, []Miss, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var samples []struct {
		FullText string `json:"full_text"`
		Spans    []struct {
			Type  string `json:"entity_type"`
			Start int    `json:"start_position"`
			End   int    `json:"end_position"`
		} `json:"spans"`
	}
	if err := json.Unmarshal(data, &samples); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	scores := map[string]*Score{}
	typeOf := map[string]string{}
	for _, pt := range PresidioTypes {
		scores[pt.Type] = &Score{}
		for _, c := range pt.Classes {
			typeOf[c] = pt.Type
		}
	}
	var misses []Miss
	for _, smp := range samples {
		// Presidio positions count runes; ours count bytes.
		runeToByte := make([]int, 0, len(smp.FullText)+1)
		for i := range smp.FullText {
			runeToByte = append(runeToByte, i)
		}
		runeToByte = append(runeToByte, len(smp.FullText))
		finds := redact.Detect(smp.FullText)
		used := make([]bool, len(finds))
		for _, sp := range smp.Spans {
			if _, ok := scores[sp.Type]; !ok {
				continue
			}
			a, b := runeToByte[sp.Start], runeToByte[sp.End]
			found := false
			for i, f := range finds {
				if f.Start < b && a < f.End && typeOf[f.Class] == sp.Type {
					found, used[i] = true, true
				}
			}
			if found {
				scores[sp.Type].TP++
			} else {
				scores[sp.Type].FN++
				misses = append(misses, Miss{sp.Type, false, smp.FullText[a:b], smp.FullText})
			}
		}
		for i, f := range finds {
			if typ, ok := typeOf[f.Class]; ok && !used[i] {
				scores[typ].FP++
				misses = append(misses, Miss{typ, true, smp.FullText[f.Start:f.End], smp.FullText})
			}
		}
	}
	return scores, misses, nil
}

// LeakyFile is one row of leaky-repo's secrets.csv with what was found.
type LeakyFile struct {
	Name     string
	Expected int // risk + informative lines
	Found    int // lines with at least one finding
	Missing  bool
}

// Leaky is the leaky-repo result, totalled as benchmark.py totals it.
type Leaky struct {
	Files []LeakyFile
	// Finds is the sum over files of min(found, expected); FalsePositives
	// the sum of found beyond expected; Expected the sum of expected.
	Finds, Expected, FalsePositives int
	// Reachable is Expected less the files absent from the copy.
	Reachable int
}

// LeakyRepo scores the detectors on the leaky-repo checkout at root the way
// its .leaky-meta/benchmark.py scores a tool: per file in secrets.csv, the
// findings up to the file's expected count are finds and the excess is
// false positives. Each line of a file is one log line and a line with any
// finding is one finding (the csv counts lines, not values). Findings of
// the classes in skip do not count.
func LeakyRepo(root string, skip ...string) (Leaky, error) {
	var res Leaky
	f, err := os.Open(filepath.Join(root, ".leaky-meta/secrets.csv"))
	if err != nil {
		return res, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ",")
		if len(parts) != 3 {
			return res, fmt.Errorf("secrets.csv: %q: want name,risk,informative", line)
		}
		risk, err1 := strconv.Atoi(parts[1])
		info, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil {
			return res, fmt.Errorf("secrets.csv: %q: counts are not numbers", line)
		}
		lf := LeakyFile{Name: parts[0], Expected: risk + info}
		res.Expected += lf.Expected
		data, err := os.ReadFile(filepath.Join(root, parts[0]))
		switch {
		case os.IsNotExist(err):
			lf.Missing = true // counts as missed, as it would for a tool
		case err != nil:
			return res, err
		default:
			res.Reachable += lf.Expected
			for _, l := range strings.Split(string(data), "\n") {
				for _, f := range redact.Detect(l) {
					if !slices.Contains(skip, f.Class) {
						lf.Found++
						break
					}
				}
			}
		}
		res.Finds += min(lf.Found, lf.Expected)
		res.FalsePositives += max(0, lf.Found-lf.Expected)
		res.Files = append(res.Files, lf)
	}
	return res, sc.Err()
}

// PrintPresidio writes the per-type table.
func PrintPresidio(w io.Writer, scores map[string]*Score) {
	fmt.Fprintf(w, "%-14s %8s %10s %6s %6s %6s\n", "class", "recall", "precision", "tp", "fn", "fp")
	for _, pt := range PresidioTypes {
		s := scores[pt.Type]
		fmt.Fprintf(w, "%-14s %8.3f %10.3f %6d %6d %6d\n", pt.Type, s.Recall(), s.Precision(), s.TP, s.FN, s.FP)
	}
}

// PrintLeaky writes the per-file table (worst first) and the totals.
func PrintLeaky(w io.Writer, l Leaky, perFile bool, label string) {
	if perFile {
		files := slices.Clone(l.Files)
		slices.SortStableFunc(files, func(a, b LeakyFile) int {
			return (b.Expected - min(b.Found, b.Expected)) - (a.Expected - min(a.Found, a.Expected))
		})
		fmt.Fprintf(w, "%-42s %11s %4s\n", "file", "found/total", "fp")
		for _, f := range files {
			note := ""
			if f.Missing {
				note = "  (not in this copy)"
			}
			fmt.Fprintf(w, "%-42s %5d/%-5d %4d%s\n", f.Name, f.Found, f.Expected, max(0, f.Found-f.Expected), note)
		}
	}
	fmt.Fprintf(w, "leaky-repo, %s: %d/%d finds (%.1f%%), %d false positives; %d of the %d are in files this copy has (gitleaks: 127/175, 17 false positives)\n",
		label, l.Finds, l.Expected, 100*float64(l.Finds)/float64(max(1, l.Expected)), l.FalsePositives, l.Reachable, l.Expected)
}
