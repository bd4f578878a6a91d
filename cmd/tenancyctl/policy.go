package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tenancyhq/tenancy/internal/policy"
)

const policyUsage = `Usage:
  tenancyctl policy validate FILE
      Parse and validate FILE. Prints the tenant count and policy version, or
      every problem as FILE:LINE: KEY: MESSAGE and exits 1.
  tenancyctl policy hash-key
      Read one API key from stdin (one line) and print the hash to paste into
      a tenant's api_keys. The key itself is never printed.
  tenancyctl policy diff OLD NEW
      Compare two policy files: "+ id" added, "- id" removed, "~ id: keys"
      changed (effective values, so a defaults change shows on every tenant).
      Exits 0 whether or not they differ, 1 if either file is invalid.
  tenancyctl policy test OLD NEW --sample FILE.jsonl [--config COLLECTOR.yaml]
      Dry run: pass the sample (OTLP/JSON lines, as tenancyctl export writes
      them; each resource's tenant.id taken as its sender's proven tenant)
      through the tenant, tenantretention and redaction steps under both
      policies, and report the records NEW newly quarantines (by reason) or
      drops by retention or residency, the classes it newly redacts, and the
      tenants whose data it routes to other backends. With --config, the
      tenantretention processor's region applies and NEW's backend names are
      checked against the config's tenantrouter backends. Exits 1 when a
      tenant's own data would be quarantined or dropped under NEW but was not
      under OLD, or a backend name is unknown.
`

func runPolicy(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, policyUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	fs := flag.NewFlagSet("tenancyctl policy "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, policyUsage) }
	sample := fs.String("sample", "", "policy test: OTLP/JSON lines to run through both policies")
	config := fs.String("config", "", "policy test: collector config whose tenantrouter backends the policy must name")
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch args[0] {
	case "validate":
		if len(rest) != 1 {
			fmt.Fprintf(stderr, "tenancyctl policy validate: want one FILE\n\n%s", policyUsage)
			return 2
		}
		p, err := policy.Load(rest[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: valid, %d tenants, version %s\n", rest[0], p.Len(), p.Version)
		return 0
	case "hash-key":
		if len(rest) != 0 {
			fmt.Fprintf(stderr, "tenancyctl policy hash-key: the key is read from stdin, not the command line (it would stay in shell history)\n")
			return 2
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "tenancyctl policy hash-key: %v\n", err)
			return 1
		}
		h, err := policy.HashAPIKey(strings.TrimRight(line, "\r\n"))
		if err != nil {
			fmt.Fprintf(stderr, "tenancyctl policy hash-key: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	case "diff":
		if len(rest) != 2 {
			fmt.Fprintf(stderr, "tenancyctl policy diff: want OLD and NEW\n\n%s", policyUsage)
			return 2
		}
		oldP, errOld := policy.Load(rest[0])
		newP, errNew := policy.Load(rest[1])
		if err := errors.Join(errOld, errNew); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		changes := policy.Diff(oldP, newP)
		if len(changes) == 0 {
			fmt.Fprintln(stdout, "no tenant changed")
		}
		for _, c := range changes {
			fmt.Fprintln(stdout, c)
		}
		fmt.Fprintf(stdout, "version %s -> %s\n", oldP.Version, newP.Version)
		return 0
	case "test":
		if len(rest) != 2 || *sample == "" {
			fmt.Fprintf(stderr, "tenancyctl policy test: want OLD NEW --sample FILE\n\n%s", policyUsage)
			return 2
		}
		return runPolicyTest(rest[0], rest[1], *sample, *config, stdout, stderr)
	}
	fmt.Fprintf(stderr, "tenancyctl policy: unknown subcommand %q\n\n%s", args[0], policyUsage)
	return 2
}

// parseInterspersed parses args with flags before, between or after the
// positional arguments it returns (policy test OLD NEW --sample F).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
