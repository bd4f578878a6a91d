// Command tenancyctl is Tenancy's operator tool: it validates, hashes keys
// for and diffs the tenant policy, and runs the pipeline's offline twins.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `tenancyctl: operate a Tenancy collector's tenant policy

Usage:
  tenancyctl policy validate FILE     check a policy; exit 1 with every problem
  tenancyctl policy hash-key          read an API key on stdin, print its policy hash
  tenancyctl policy diff OLD NEW      list tenants added, removed and changed
  tenancyctl policy test OLD NEW --sample F.jsonl [--config COLLECTOR.yaml]
                                      dry run: what NEW quarantines, drops, redacts, routes differently
  tenancyctl query --data DIR --tenant T "SQL"
                                      read-only SQL on one tenant's local store
  tenancyctl tenants --data DIR      tenants in a local store: size, records, oldest, newest, key id
  tenancyctl audit verify --data DIR --tenant T
                                      check a tenant's hash-chained audit log
  tenancyctl keys rotate --data DIR --new-master-key-file F
                                      re-wrap data keys with a new master key
  tenancyctl keys rotate --data DIR --data-keys [--tenant T]
                                      re-encrypt databases under new data keys, online
  tenancyctl tenant shred --data DIR T
                                      destroy a tenant's data key (crypto-shredding)
  tenancyctl quarantine --data DIR [--by TENANT] [--reason R]
                                      quarantined records: who sent them, claiming whom, why
  tenancyctl lineage --data DIR --tenant T [--signal S] (--record ID | --trace-id X | --since S [--until U])
                                      a record's or a time range's journey: request, sender, decision, redactions, where it went, anchor
  tenancyctl export --data DIR --tenant T [--since] [--until] [--signal]
                                      a tenant's records as OTLP/JSON lines any collector reads
  tenancyctl backup --data DIR --tenant T|--all --out DIR
                                      online, encrypted, verified copy of tenants' databases
  tenancyctl restore --data DIR --from DIR
                                      put a backup back; audit verify passes on it
  tenancyctl redact --policy FILE     redact OTLP/JSON offline, as the tenantredact processor does
  tenancyctl anomaly replay --in CSV  score a series offline, as the tenantanomaly connector does
  tenancyctl overrides --policy FILE --backend cortex|loki
                                      per-tenant retention as the backend's runtime overrides

Run 'tenancyctl COMMAND SUBCOMMAND --help' for details.
`

// run is main without the process: it returns the exit code (0 ok, 1 the
// input is bad, 2 the command line is wrong).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "policy":
		return runPolicy(args[1:], stdin, stdout, stderr)
	case "query":
		return runQuery(args[1:], stdout, stderr)
	case "audit":
		return runAudit(args[1:], stdout, stderr)
	case "keys":
		return runKeys(args[1:], stdout, stderr)
	case "tenants":
		return runTenants(args[1:], stdout, stderr)
	case "tenant":
		return runTenant(args[1:], stdin, stdout, stderr)
	case "quarantine":
		return runQuarantine(args[1:], stdout, stderr)
	case "lineage":
		return runLineage(args[1:], stdout, stderr)
	case "export":
		return runExport(args[1:], stdout, stderr)
	case "backup":
		return runBackup(args[1:], stdout, stderr)
	case "restore":
		return runRestore(args[1:], stdout, stderr)
	case "redact":
		return runRedact(args[1:], stdin, stdout, stderr)
	case "anomaly":
		return runAnomaly(args[1:], stdin, stdout, stderr)
	case "overrides":
		return runOverrides(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "tenancyctl: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "help" }
