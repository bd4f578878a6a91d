package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tenancyhq/tenancy/internal/anomaly"
)

const anomalyUsage = `Usage:
  tenancyctl anomaly replay --in FILE.csv [--out FILE.csv] [--sensitivity 0.5] [--probation 150]
      Run the tenantanomaly connector's detector over one series offline.
      FILE.csv is NAB-format CSV: a header with timestamp and value columns,
      then one row per interval (timestamps as "2006-01-02 15:04:05" or
      RFC 3339). Rows are scored in file order, as the connector scores
      records in arrival order: a row whose timestamp goes back is scored
      where it stands, not reordered. Writes timestamp,value,anomaly_score,
      one row per input row, to --out, or stdout without it. Scores are in [0,1]; the processor
      flags an interval at its threshold (0.5 by default).
      A malformed row exits 1 naming its line.
`

func runAnomaly(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, anomalyUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "replay" {
		fmt.Fprintf(stderr, "tenancyctl anomaly: unknown subcommand %q\n\n%s", args[0], anomalyUsage)
		return 2
	}
	def := anomaly.DefaultConfig()
	fs := flag.NewFlagSet("tenancyctl anomaly replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, anomalyUsage) }
	in := fs.String("in", "", "input CSV (timestamp,value)")
	out := fs.String("out", "", "output CSV (default stdout)")
	cfg := def
	fs.Float64Var(&cfg.Sensitivity, "sensitivity", def.Sensitivity, "sensitivity in [0,1], as a tenant's anomaly.sensitivity")
	fs.IntVar(&cfg.Probation, "probation", def.Probation, "first rows that always score 0 while the baseline learns")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *in == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, "tenancyctl anomaly replay: --in is required and no positional arguments are taken\n\n"+anomalyUsage)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "tenancyctl anomaly replay: %v\n", err)
		return 2
	}
	r, err := os.Open(*in)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl anomaly replay: %v\n", err)
		return 1
	}
	defer r.Close()
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "tenancyctl anomaly replay: %v\n", err)
			return 1
		}
		w = f
	}
	err = anomaly.Replay(r, w, cfg)
	if f != nil {
		err = errors.Join(err, f.Close())
		if err != nil {
			// A half-written score file would pass for a whole one.
			_ = os.Remove(*out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl anomaly replay: %s: %v\n", *in, err)
		return 1
	}
	return 0
}
