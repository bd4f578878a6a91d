// Command redacteval prints the redaction detectors' recall and precision
// per class on Presidio's synthetic PII set and the secrets they find on
// leaky-repo, scored as leaky-repo's benchmark.py scores tools. It is
// `make eval-redaction`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tenancyhq/tenancy/internal/redact/redacteval"
)

func main() {
	data := flag.String("data", "testdata/pii", "folder holding presidio/ and leaky-repo/; the default is the repository's copy, relative to its root")
	perFile := flag.Bool("files", true, "print leaky-repo per file")
	misses := flag.Int("misses", 0, "print up to this many Presidio misses and false positives per type")
	flag.Parse()

	scores, ms, err := redacteval.Presidio(filepath.Join(*data, redacteval.PresidioFile))
	if err != nil {
		fmt.Fprintln(os.Stderr, "redacteval:", err)
		os.Exit(1)
	}
	fmt.Println("Presidio synth_dataset_v2.json")
	redacteval.PrintPresidio(os.Stdout, scores)
	if *misses > 0 {
		shown := map[string]int{}
		for _, m := range ms {
			k := fmt.Sprint(m.Type, m.FP)
			if shown[k] >= *misses {
				continue
			}
			shown[k]++
			kind := "missed"
			if m.FP {
				kind = "false positive"
			}
			fmt.Printf("  %s %s %q in %q\n", m.Type, kind, m.Value, m.Text)
		}
	}
	fmt.Println()
	l, err := redacteval.LeakyRepo(filepath.Join(*data, redacteval.LeakyRepoDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "redacteval:", err)
		os.Exit(1)
	}
	redacteval.PrintLeaky(os.Stdout, l, *perFile, "every class")
	// The csv counts "informative" lines (user and host names, database
	// names) beside secrets; username and endpoint are the classes that
	// find those, so the line without them is the secrets alone.
	l, err = redacteval.LeakyRepo(filepath.Join(*data, redacteval.LeakyRepoDir), "username", "endpoint")
	if err != nil {
		fmt.Fprintln(os.Stderr, "redacteval:", err)
		os.Exit(1)
	}
	redacteval.PrintLeaky(os.Stdout, l, false, "without username and endpoint")
}
