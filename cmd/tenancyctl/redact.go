package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact"
)

const redactUsage = `Usage:
  tenancyctl redact --policy FILE [--in FILE] [--out FILE]
      [--hash-key ID=ENVVAR ...] [--active-hash-key ID]

Redact OTLP/JSON offline exactly as the tenantredact processor would: one
ExportLogsServiceRequest, ExportMetricsServiceRequest or
ExportTraceServiceRequest per line (the file exporter's format), each
resource's tenant.id taken as given. Reads stdin and writes stdout unless
--in/--out are given. The same number of records comes out as goes in. A
summary (records, redactions per class and per tenant) goes to stderr, and
a progress line every 2 seconds on inputs that take longer.

Hash keys, needed when the policy hashes a class, are read from the named
environment variables so they stay out of shell history:
  TENANCY_HASH_KEY_k1=... tenancyctl redact --policy tenants.yaml \
      --hash-key k1=TENANCY_HASH_KEY_k1 --active-hash-key k1 < in.jsonl
`

type hashKeyFlags map[string]string

func (h hashKeyFlags) String() string { return "" }

func (h hashKeyFlags) Set(v string) error {
	id, env, ok := strings.Cut(v, "=")
	if !ok || id == "" || env == "" {
		return fmt.Errorf("want ID=ENVVAR, got %q", v)
	}
	h[id] = env
	return nil
}

func runRedact(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenancyctl redact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, redactUsage) }
	policyPath := fs.String("policy", "", "policy file (tenants.yaml)")
	inPath := fs.String("in", "", "input file (default stdin)")
	outPath := fs.String("out", "", "output file (default stdout)")
	active := fs.String("active-hash-key", "", "hash key id new hashes use")
	keys := hashKeyFlags{}
	fs.Var(keys, "hash-key", "ID=ENVVAR: a hash key read from an environment variable (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *policyPath == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, "tenancyctl redact: --policy is required and no positional arguments are taken\n\n"+redactUsage)
		return 2
	}
	pol, err := policy.Load(*policyPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	opts := redact.Options{HashKeys: map[string][]byte{}, ActiveHashKey: *active}
	for id, env := range keys {
		v := os.Getenv(env)
		if v == "" {
			fmt.Fprintf(stderr, "tenancyctl redact: hash key %s: environment variable %s is empty\n", id, env)
			return 2
		}
		opts.HashKeys[id] = []byte(v)
	}
	r, err := redact.New(pol, opts)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl redact: %v\n", err)
		return 1
	}

	in := stdin
	if *inPath != "" {
		f, err := os.Open(*inPath)
		if err != nil {
			fmt.Fprintf(stderr, "tenancyctl redact: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	out := stdout
	var outFile *os.File
	if *outPath != "" {
		outFile, err = os.Create(*outPath)
		if err != nil {
			fmt.Fprintf(stderr, "tenancyctl redact: %v\n", err)
			return 1
		}
		out = outFile
	}
	cr := &countingReader{r: in}
	start := time.Now()
	next := start.Add(progressEvery)
	sum, err := redact.RedactOTLPJSONEach(r, cr, out, func(s redact.Summary) {
		if now := time.Now(); !now.Before(next) {
			fmt.Fprintf(stderr, "progress: %d requests, %d records, %.1f MB read in %s\n",
				s.Lines, s.Records, float64(cr.n)/1e6, now.Sub(start).Round(time.Second))
			next = now.Add(progressEvery)
		}
	})
	if outFile != nil {
		if cerr := outFile.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl redact: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "policy %s: %d requests, %d records, %d redactions\n", pol.Version, sum.Lines, sum.Records, sum.Stats.Total())
	printCounts(stderr, "by class", sum.ByClass())
	printCounts(stderr, "by tenant", sum.ByTenant())
	return 0
}

func printCounts(w io.Writer, title string, m map[string]int64) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "%s:\n", title)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-20s %d\n", k, m[k])
	}
}

// progressEvery is how often tenancyctl redact reports progress on stderr.
var progressEvery = 2 * time.Second

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
