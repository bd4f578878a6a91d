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

  tenancyctl redact pseudonym --tenant ID --hash-key ID=ENVVAR ...
      [--check '<hash:ID:HEX>'] VALUE

prints the pseudonym the hash action writes for VALUE in a record of the
tenant (--tenant "" for records no declared tenant owns) under the one key
given, or, with --check, says whether a stored pseudonym is VALUE's under
the key it names (exit 0 when it is, 1 when not). This is what inactive
keys of the processor's hash_keys are kept for: after a rotation the
processor hashes with the active key only, and a pseudonym an older key
wrote is looked up or verified with that key's secret.
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

// secret reads hash key id's secret from its environment variable.
func (h hashKeyFlags) secret(id string) ([]byte, error) {
	v := os.Getenv(h[id])
	if v == "" {
		return nil, fmt.Errorf("hash key %s: environment variable %s is empty", id, h[id])
	}
	return []byte(v), nil
}

// redactFlags is the flag set of a redact command with its repeatable
// --hash-key.
func redactFlags(name string, stderr io.Writer) (*flag.FlagSet, hashKeyFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, redactUsage) }
	keys := hashKeyFlags{}
	fs.Var(keys, "hash-key", "ID=ENVVAR: a hash key read from an environment variable (repeatable)")
	return fs, keys
}

// parseRedactFlags parses args; when it returns !ok the command exits
// with code (0 for -h).
func parseRedactFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func runRedact(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "pseudonym" {
		return runPseudonym(args[1:], stdout, stderr)
	}
	fs, keys := redactFlags("tenancyctl redact", stderr)
	policyPath := fs.String("policy", "", "policy file (tenants.yaml)")
	inPath := fs.String("in", "", "input file (default stdin)")
	outPath := fs.String("out", "", "output file (default stdout)")
	active := fs.String("active-hash-key", "", "hash key id new hashes use")
	if code, ok := parseRedactFlags(fs, args); !ok {
		return code
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
	for id := range keys {
		v, err := keys.secret(id)
		if err != nil {
			fmt.Fprintf(stderr, "tenancyctl redact: %v\n", err)
			return 2
		}
		opts.HashKeys[id] = v
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

func runPseudonym(args []string, stdout, stderr io.Writer) int {
	fs, keys := redactFlags("tenancyctl redact pseudonym", stderr)
	tenant := fs.String("tenant", "", "tenant whose records the value was in (\"\" for records without an owner)")
	check := fs.String("check", "", "a stored pseudonym <hash:ID:HEX> to verify against VALUE")
	if code, ok := parseRedactFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "tenancyctl redact pseudonym: want exactly one VALUE\n\n"+redactUsage)
		return 2
	}
	keyID := ""
	if *check != "" {
		id, _, ok := strings.Cut(strings.TrimPrefix(*check, "<hash:"), ":")
		if !ok || !strings.HasPrefix(*check, "<hash:") {
			fmt.Fprintf(stderr, "tenancyctl redact pseudonym: --check %q is not <hash:ID:HEX>\n", *check)
			return 2
		}
		keyID = id
	} else {
		if len(keys) != 1 {
			fmt.Fprint(stderr, "tenancyctl redact pseudonym: give exactly one --hash-key (or --check, which names its key)\n")
			return 2
		}
		for id := range keys {
			keyID = id
		}
	}
	if _, ok := keys[keyID]; !ok {
		fmt.Fprintf(stderr, "tenancyctl redact pseudonym: no --hash-key %s=ENVVAR given for the key the pseudonym names\n", keyID)
		return 2
	}
	secret, err := keys.secret(keyID)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl redact pseudonym: %v\n", err)
		return 2
	}
	got, err := redact.Pseudonym(secret, keyID, *tenant, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl redact pseudonym: %v\n", err)
		return 1
	}
	if *check == "" {
		fmt.Fprintln(stdout, got)
		return 0
	}
	if got != *check {
		fmt.Fprintf(stdout, "no match: under key %s, tenant %q, the value is %s\n", keyID, *tenant, got)
		return 1
	}
	fmt.Fprintln(stdout, "match")
	return 0
}
