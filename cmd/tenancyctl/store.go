package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

const storeUsage = `Usage (the local store; the master key comes from --master-key-file or
$TENANCY_MASTER_KEY, 64 hex digits; the policy version audit entries carry
comes from --policy when given):
  tenancyctl query --data DIR --tenant T [--since S] [--until U] [--format table|json|csv] [--max-rows N] "SQL"
      Run one read-only SQL statement on tenant T's database only (views
      logs, datapoints, spans; tables lineage, audit, and resources with
      log_rows, datapoint_rows, span_rows behind the views; attributes are
      JSON, use json_extract; a record's lineage column is its request's
      row in lineage).
      --since/--until take RFC 3339 times or an age ("2h", "7d"); they limit
      logs, datapoints and spans to that window. Statements that write,
      ATTACH and PRAGMA are refused. Every query, refused ones too, is
      appended to the tenant's audit log. The result stops after --max-rows
      rows (100,000) or before its text and blob values pass 256 MiB (a
      resource is stored once, and every row that names it reads it whole);
      the rows read are printed and stderr says the result was cut.
  tenancyctl audit verify --data DIR --tenant T [--anchors FILE]
      Check T's audit log, a hash chain keyed by T's data key, and T's data
      rows against it (each ingest entry carries a digest of the rows it
      inserted, each retention run of the rows it deleted): name the first
      broken entry, or the table whose rows were edited, inserted or
      deleted, and exit 1. An empty chain on a database with rows fails.
      Then checks the chain against the anchors (chain heads the collector
      wrote every anchor_interval) in FILE, or in DIR/~store/anchors.jsonl when
      present: a chain shorter than an anchor was truncated, one whose entry
      differs from an anchor was rebuilt; exit 1 either way. Keep a copy of
      the anchor log (or the _governance anchor records) off the host.
  tenancyctl keys rotate --data DIR [--tenant T] --new-master-key-file F
      Re-wrap T's data key (every tenant's without --tenant) with the new
      master key (or $TENANCY_NEW_MASTER_KEY); the databases are unchanged.
      All or nothing: every re-wrap is prepared first, and if one tenant's
      fails the command names it and no key file changes. Tenants already
      on the new key are kept, so a rerun completes. A T the store does not
      hold is refused. A running collector keeps writing the tenants it
      has open and refuses to create new ones under the old key until it
      reads the new one (replace its master key file) or is restarted.
  tenancyctl keys rotate --data DIR --data-keys [--tenant T]
      Re-encrypt T's database (every tenant's, one by one, without
      --tenant) under a new random data key, so a leaked data key stops
      opening it; a progress line per tenant. Online: a running collector
      closes the tenant's database at its next write, waits for the copy,
      and reopens it under the new key. The copy is verified before it
      replaces the database; a failure leaves that tenant on its old key
      (named, exit 1) and goes on with the next. The audit chain keeps its
      key, so audit verify and its anchors still pass.
  tenancyctl tenants --data DIR [--format table|json]
      List the tenants in the store: size on disk, records (logs, data
      points, spans), oldest and newest record time, and the id of the
      master key wrapping each data key. Without a master key it lists
      sizes and key ids only. Reads no records and writes nothing.
  tenancyctl tenant shred --data DIR [--reason R] [--yes] T
      Destroy T's data key: its database becomes unreadable for good. Asks
      for T's id on stdin unless --yes. Writes SHREDDED.json beside it, a
      tombstone: data that arrives later for T is refused (by the store and
      by the router, which also drops T's batches still queued; those in
      its persistent queue were sealed with T's data key) until tenant
      clear. A T the store does not hold is refused.
  tenancyctl tenant clear --data DIR T
      Clear T's tombstone: the unreadable database goes, the tombstone is
      kept as SHREDDED-<time>.json, and data for T is stored again under a
      new data key.
`

// storeFlags are the flags every store command shares.
type storeFlags struct {
	fs            *flag.FlagSet
	data          string
	tenant        string
	masterKeyFile string
	policyFile    string
	since, until  *string // with addWindow
}

func newStoreFlags(name string, stderr io.Writer) *storeFlags {
	f := &storeFlags{fs: flag.NewFlagSet("tenancyctl "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, storeUsage) }
	f.fs.StringVar(&f.data, "data", "", "the store's data directory")
	f.fs.StringVar(&f.tenant, "tenant", "", "the tenant id")
	f.fs.StringVar(&f.masterKeyFile, "master-key-file", "", "file with the master key (else $"+localstore.MasterKeyEnv+")")
	f.fs.StringVar(&f.policyFile, "policy", "", "policy file whose version audit entries record")
	return f
}

// validFormat checks a --format of writeResult, saying why not.
func validFormat(f *storeFlags, format string, stderr io.Writer) bool {
	if format != "table" && format != "json" && format != "csv" {
		fmt.Fprintf(stderr, "%s: --format: want table, json or csv, found %q\n", f.fs.Name(), format)
		return false
	}
	return true
}

// addWindow adds --since and --until.
func (f *storeFlags) addWindow(what string) {
	f.since = f.fs.String("since", "", "only "+what+" at or after this time (RFC 3339 or an age: 2h, 7d)")
	f.until = f.fs.String("until", "", "only "+what+" before this time")
}

// window is --since and --until as times (zero when not given); code is
// -1 when the command goes on.
func (f *storeFlags) window(stderr io.Writer) (lo, hi time.Time, code int) {
	now := time.Now()
	lo, err1 := parseWhen(*f.since, now)
	hi, err2 := parseWhen(*f.until, now)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(stderr, "%s: --since/--until: %v\n", f.fs.Name(), err)
		return lo, hi, 2
	}
	return lo, hi, -1
}

// parse parses args; code is -1 when the command goes on.
func (f *storeFlags) parse(args []string, needTenant bool, stderr io.Writer) int {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.data == "" {
		fmt.Fprintf(stderr, "%s: --data is required\n", f.fs.Name())
		return 2
	}
	if needTenant {
		if f.tenant == "" {
			fmt.Fprintf(stderr, "%s: --tenant is required\n", f.fs.Name())
			return 2
		}
		if err := policy.ValidateTenantID(f.tenant); err != nil {
			fmt.Fprintf(stderr, "%s: --tenant: %v\n", f.fs.Name(), err)
			return 2
		}
	}
	return -1
}

func (f *storeFlags) open() (*localstore.Store, string, error) {
	key, err := localstore.LoadMasterKey(f.masterKeyFile, "")
	if err != nil {
		return nil, "", err
	}
	version := ""
	if f.policyFile != "" {
		p, err := policy.Load(f.policyFile)
		if err != nil {
			return nil, "", err
		}
		version = p.Version
	}
	if _, err := os.Stat(f.data); err != nil {
		return nil, "", err
	}
	s, err := localstore.Open(f.data, key)
	return s, version, err
}

func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return "tenancyctl:" + name
}

// parseWhen reads an RFC 3339 time or an age before now ("2h", "7d").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := policy.ParseRetention(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or an age like 2h or 7d, found %q", s)
	}
	return now.Add(-d), nil
}

func runQuery(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("query", stderr)
	f.addWindow("rows")
	format := f.fs.String("format", "table", "table, json or csv")
	maxRows := f.fs.Int("max-rows", 100000, "stop after this many rows (a result stops before 256 MiB of values too)")
	if code := f.parse(args, true, stderr); code >= 0 {
		return code
	}
	if f.fs.NArg() != 1 {
		fmt.Fprintf(stderr, "tenancyctl query: want one SQL statement (quote it)\n\n%s", storeUsage)
		return 2
	}
	if !validFormat(f, *format, stderr) {
		return 2
	}
	lo, hi, code := f.window(stderr)
	if code >= 0 {
		return code
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl query: %v\n", err)
		return 1
	}
	defer s.Close()
	res, err := s.Query(context.Background(), f.tenant, f.fs.Arg(0), localstore.QueryOptions{Since: lo, Until: hi, MaxRows: *maxRows, Actor: actor()}, version)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl query: %v\n", err)
		return 1
	}
	if err := writeResult(stdout, *format, res); err != nil {
		fmt.Fprintf(stderr, "tenancyctl query: %v\n", err)
		return 1
	}
	if res.Truncated {
		fmt.Fprintf(stderr, "tenancyctl query: stopped after %d rows (--max-rows, or 256 MiB of values)\n", len(res.Rows))
	}
	return 0
}

// oneLine makes a table cell's tabs and newlines spaces.
var oneLine = strings.NewReplacer("\t", " ", "\n", " ")

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return fmt.Sprintf("%x", x)
	default:
		return fmt.Sprint(x)
	}
}

func writeResult(w io.Writer, format string, res *localstore.QueryResult) error {
	switch format {
	case "json":
		out := make([]map[string]any, 0, len(res.Rows))
		for _, row := range res.Rows {
			m := make(map[string]any, len(row))
			for i, v := range row {
				m[res.Columns[i]] = v
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(res.Columns)
		for _, row := range res.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = cell(v)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
	for _, row := range res.Rows {
		rec := make([]string, len(row))
		for i, v := range row {
			// A body or attribute is a client's text: no control
			// character of it reaches the terminal (printable).
			rec[i] = printable(oneLine.Replace(cell(v)))
		}
		fmt.Fprintln(tw, strings.Join(rec, "\t"))
	}
	return tw.Flush()
}

func runAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprint(stdout, storeUsage)
			return 0
		}
		fmt.Fprintf(stderr, "tenancyctl audit: want the verify subcommand\n\n%s", storeUsage)
		return 2
	}
	f := newStoreFlags("audit verify", stderr)
	anchors := f.fs.String("anchors", "", "anchor log to check the chain against (default: the store's own anchors.jsonl when present)")
	if code := f.parse(args[1:], true, stderr); code >= 0 {
		return code
	}
	s, _, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl audit verify: %v\n", err)
		return 1
	}
	defer s.Close()
	if ts, shredded, _ := s.ReadTombstone(f.tenant); shredded && ts != nil {
		fmt.Fprintf(stderr, "tenancyctl audit verify: %s was crypto-shredded at %s (%s); its last audit entry was seq %d, hash %s\n",
			f.tenant, ts.Time.Format(time.RFC3339), ts.Reason, ts.AuditHeadSeq, ts.AuditHeadHash)
		return 1
	}
	res, err := s.VerifyAudit(f.tenant)
	var ce *localstore.ChainError
	var re *localstore.RowsError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(stdout, "%s: audit log BROKEN at seq %d: %s (%d entries verified before it)\n", f.tenant, ce.Seq, ce.Reason, res.Entries)
		return 1
	case errors.As(err, &re):
		fmt.Fprintf(stdout, "%s: data rows do NOT match the audit log: table %s: %s\n", f.tenant, re.Table, re.Reason)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "tenancyctl audit verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: audit log verified, %d entries, %d data rows accounted for, head seq %d hash %s\n", f.tenant, res.Entries, res.Rows, res.HeadSeq, res.HeadHash)
	if res.Unkeyed > 0 {
		fmt.Fprintf(stdout, "%s: the first %d entries were written before the chain was keyed: they verify only as a plain hash chain\n", f.tenant, res.Unkeyed)
	}
	return checkAnchors(s, f.tenant, res, *anchors, localstore.AnchorLog(f.data), stdout, stderr)
}

// checkAnchors checks a verified chain against an anchor log: the one
// given, else the store's own when it has one.
func checkAnchors(s *localstore.Store, tenant string, res localstore.VerifyResult, given, own string, stdout, stderr io.Writer) int {
	path := given
	if path == "" {
		if _, err := os.Stat(own); err != nil {
			return 0
		}
		path = own
	}
	fh, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl audit verify: --anchors: %v\n", err)
		return 1
	}
	defer fh.Close()
	n, err := s.CheckAnchors(tenant, res, fh)
	var ae *localstore.AnchorError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(stdout, "%s: audit log does NOT match %s: %v\n", tenant, path, ae)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "tenancyctl audit verify: %s: %v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: audit log contains all %d anchors of this chain in %s\n", tenant, n, path)
	return 0
}

// NewMasterKeyEnv holds the new master key for keys rotate when no file is given.
const NewMasterKeyEnv = "TENANCY_NEW_MASTER_KEY"

func runKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprint(stdout, storeUsage)
			return 0
		}
		fmt.Fprintf(stderr, "tenancyctl keys: want the rotate subcommand\n\n%s", storeUsage)
		return 2
	}
	f := newStoreFlags("keys rotate", stderr)
	newFile := f.fs.String("new-master-key-file", "", "file with the new master key (else $"+NewMasterKeyEnv+")")
	dataKeys := f.fs.Bool("data-keys", false, "re-encrypt databases under new data keys (not the master key)")
	if code := f.parse(args[1:], false, stderr); code >= 0 {
		return code
	}
	if f.tenant != "" {
		if err := policy.ValidateTenantID(f.tenant); err != nil {
			fmt.Fprintf(stderr, "tenancyctl keys rotate: --tenant: %v\n", err)
			return 2
		}
	}
	if *dataKeys {
		if *newFile != "" {
			fmt.Fprintf(stderr, "tenancyctl keys rotate: --data-keys keeps the master key: no --new-master-key-file\n")
			return 2
		}
		return rotateDataKeys(f, stdout, stderr)
	}
	newKey, err := localstore.LoadMasterKey(*newFile, NewMasterKeyEnv)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl keys rotate: new master key: %v\n", err)
		return 2
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl keys rotate: %v\n", err)
		return 1
	}
	defer s.Close()
	oldID := s.MasterKeyID()
	if f.tenant != "" {
		err = s.RewrapTenant(f.tenant, newKey, version)
	} else {
		err = s.RotateMasterKey(newKey, version)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl keys rotate: %v\n", err)
		return 1
	}
	scope := "every tenant's data key"
	if f.tenant != "" {
		scope = f.tenant + "'s data key"
	}
	fmt.Fprintf(stdout, "re-wrapped %s: master key %s -> %s\n", scope, oldID, localstore.KeyID(newKey))
	return 0
}

// rotateDataKeys is keys rotate --data-keys: tenant by tenant, going on
// after a failure, exit 1 when any failed.
func rotateDataKeys(f *storeFlags, stdout, stderr io.Writer) int {
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl keys rotate: %v\n", err)
		return 1
	}
	defer s.Close()
	tenants := []string{f.tenant}
	if f.tenant == "" {
		if tenants, err = s.Tenants(); err != nil {
			fmt.Fprintf(stderr, "tenancyctl keys rotate: %v\n", err)
			return 1
		}
	}
	var failed []string
	for i, tn := range tenants {
		start := time.Now()
		oldID, newID, err := s.RotateDataKey(tn, version)
		switch {
		case f.tenant == "" && (errors.Is(err, localstore.ErrShredded) || errors.Is(err, localstore.ErrNoTenant)):
			fmt.Fprintf(stdout, "[%d/%d] %s: skipped (%v)\n", i+1, len(tenants), tn, err)
		case err != nil:
			failed = append(failed, tn)
			fmt.Fprintf(stderr, "[%d/%d] %s: %v\n", i+1, len(tenants), tn, err)
		default:
			fmt.Fprintf(stdout, "[%d/%d] %s: data key %s -> %s (%s)\n", i+1, len(tenants), tn, oldID, newID, time.Since(start).Round(time.Millisecond))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(stderr, "tenancyctl keys rotate: %d tenants kept their old data key: %s\n", len(failed), strings.Join(failed, ", "))
		return 1
	}
	return 0
}

func runTenant(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "clear" {
		return runTenantClear(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "shred" {
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprint(stdout, storeUsage)
			return 0
		}
		fmt.Fprintf(stderr, "tenancyctl tenant: want the shred or clear subcommand\n\n%s", storeUsage)
		return 2
	}
	f := newStoreFlags("tenant shred", stderr)
	reason := f.fs.String("reason", "requested by operator", "why, for the audit entry and the tombstone")
	yes := f.fs.Bool("yes", false, "do not ask for confirmation")
	if code := f.parse(args[1:], false, stderr); code >= 0 {
		return code
	}
	if f.fs.NArg() != 1 {
		fmt.Fprintf(stderr, "tenancyctl tenant shred: want the tenant id\n\n%s", storeUsage)
		return 2
	}
	tenant := f.fs.Arg(0)
	if err := policy.ValidateTenantID(tenant); err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenant shred: %v\n", err)
		return 2
	}
	if !*yes {
		fmt.Fprintf(stderr, "This destroys %s's data key: its data can never be read again. Type the tenant id to confirm: ", tenant)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != tenant {
			fmt.Fprintln(stderr, "\ntenancyctl tenant shred: not confirmed; nothing changed")
			return 1
		}
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenant shred: %v\n", err)
		return 1
	}
	defer s.Close()
	ts, err := s.Shred(tenant, *reason+" ("+actor()+")", version)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenant shred: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s shredded at %s; last audit entry seq %d hash %s\n", tenant, ts.Time.Format(time.RFC3339), ts.AuditHeadSeq, ts.AuditHeadHash)
	return 0
}

// runTenantClear lets a shredded tenant id take data again.
func runTenantClear(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("tenant clear", stderr)
	if code := f.parse(args, false, stderr); code >= 0 {
		return code
	}
	if f.fs.NArg() != 1 {
		fmt.Fprintf(stderr, "tenancyctl tenant clear: want the tenant id\n\n%s", storeUsage)
		return 2
	}
	tenant := f.fs.Arg(0)
	if err := policy.ValidateTenantID(tenant); err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenant clear: %v\n", err)
		return 2
	}
	s, _, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenant clear: %v\n", err)
		return 1
	}
	defer s.Close()
	ts, err := s.ClearTombstone(tenant, actor())
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenant clear: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: tombstone of %s cleared; data for %s is stored again, under a new data key\n", tenant, ts.Time.Format(time.RFC3339), tenant)
	return 0
}

func runTenants(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("tenants", stderr)
	format := f.fs.String("format", "table", "table or json")
	if code := f.parse(args, false, stderr); code >= 0 {
		return code
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "tenancyctl tenants: --format: want table or json, found %q\n", *format)
		return 2
	}
	key, err := localstore.LoadMasterKey(f.masterKeyFile, "")
	if errors.Is(err, localstore.ErrNoMasterKey) {
		key = nil // sizes and key ids only
	} else if err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenants: %v\n", err)
		return 1
	}
	infos, err := localstore.Inventory(f.data, key)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl tenants: %v\n", err)
		return 1
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(infos); err != nil {
			fmt.Fprintf(stderr, "tenancyctl tenants: %v\n", err)
			return 1
		}
		return 0
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tBYTES\tRECORDS\tOLDEST\tNEWEST\tMASTER KEY ID\tNOTE")
	for _, in := range infos {
		records, key := fmt.Sprint(in.Records), in.MasterKeyID
		if in.Unreadable != "" {
			records = "-"
		}
		if key == "" {
			key = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", in.Tenant, in.Bytes, records, when(in.Oldest), when(in.Newest), key,
			oneLine.Replace(in.Unreadable))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}
