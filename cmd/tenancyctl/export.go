package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

const exportUsage = `Usage:
  tenancyctl export --data DIR --tenant T [--since S] [--until U] [--signal logs,metrics,traces]
      Write T's records as OTLP/JSON lines on stdout, one export request
      of at most 1,000 records a line, as the file exporter writes them:
      any collector reads them back (otlpjsonfile receiver, or each line
      POSTed to /v1/logs, /v1/metrics, /v1/traces). Stored again they give
      the same rows. The export is recorded in T's audit log.
`

func runExport(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("export", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, exportUsage) }
	f.addWindow("records")
	signals := f.fs.String("signal", "", "comma-separated signals (default: all)")
	if code := f.parse(args, true, stderr); code >= 0 {
		return code
	}
	lo, hi, code := f.window(stderr)
	if code >= 0 {
		return code
	}
	opts := localstore.ExportOptions{Since: lo, Until: hi, Actor: actor()}
	if *signals != "" {
		for _, s := range strings.Split(*signals, ",") {
			sig := policy.Signal(strings.TrimSpace(s))
			if sig != policy.SignalLogs && sig != policy.SignalMetrics && sig != policy.SignalTraces {
				fmt.Fprintf(stderr, "tenancyctl export: --signal: want logs, metrics or traces, found %q\n", s)
				return 2
			}
			opts.Signals = append(opts.Signals, sig)
		}
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl export: %v\n", err)
		return 1
	}
	defer s.Close()
	counts, err := s.Export(f.tenant, opts, stdout, version)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "tenancyctl export: %s: %d logs, %d data points, %d spans\n", f.tenant,
		counts[policy.SignalLogs], counts[policy.SignalMetrics], counts[policy.SignalTraces])
	return 0
}
