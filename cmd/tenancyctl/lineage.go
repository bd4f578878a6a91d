package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
)

const lineageUsage = `Usage:
  tenancyctl lineage --data DIR --tenant T [--signal logs|metrics|traces] (--record ID | --trace-id X)
  tenancyctl lineage --data DIR --tenant T --since S [--until U] [--max N]
      The journey of a record (by its row id in the signal's table; its
      lineage column is the row of its request in the lineage table), of
      every record of a trace, or of every request accepted in a time
      range: the request it came in (lineage id, when the tenant processor
      accepted it, on which collector, from which client and receiver, the
      tenant and credential that proved it, the decision under which
      policy version), what the pipeline did (redactions per class,
      retention), where it went (stored here: rows and the audit entry that
      accounts for them; delivered to another backend: which and when),
      and the first anchor that covers the audit entry. A store written
      before lineage has only the audit entry and the stamps. Queries are
      audited.
`

var lineageTables = map[string]string{"logs": "logs", "metrics": "datapoints", "traces": "spans"}

// lineageCols are the lineage table's columns lineageRow reads, in order.
const lineageCols = `lineage_id, signal, backend, accepted_unix_nano, delivered_unix_nano, records, first_id, last_id,
  receiver, client, tenant, auth, credential, collector, policy_version, decision, redactions, retention, audit_seq, `

// lineageRow is one part of a request: its records stored here (backend
// "") or delivered to a backend.
type lineageRow struct {
	id, signal, backend                                                                                 string
	accepted, delivered, records                                                                        int64
	firstID, lastID                                                                                     any
	receiver, client, tenant, auth, credential, collector, policyVersion, decision, redacted, retention string
	auditSeq                                                                                            int64
	upstream                                                                                            string
}

func scanLineage(r []any) lineageRow {
	s := func(i int) string { return cell(r[i]) }
	n := func(i int) int64 { v, _ := r[i].(int64); return v }
	return lineageRow{id: s(0), signal: s(1), backend: s(2), accepted: n(3), delivered: n(4), records: n(5), firstID: r[6], lastID: r[7],
		receiver: s(8), client: s(9), tenant: s(10), auth: s(11), credential: s(12), collector: s(13), policyVersion: s(14),
		decision: s(15), redacted: s(16), retention: s(17), auditSeq: n(18), upstream: s(19)}
}

// sqlQuote is s as an SQL string literal.
func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

type lineageCmd struct {
	s         *localstore.Store
	tenant    string
	version   string
	anchorLog string
	// anchors are the tenant chain's anchors in anchorLog, read once.
	anchors []localstore.Anchor
	tw      *tabwriter.Writer
}

func (c *lineageCmd) query(sql string) (*localstore.QueryResult, error) {
	return whole(c.s.Query(context.Background(), c.tenant, sql, localstore.QueryOptions{Actor: actor()}, c.version))
}

// whole refuses a result Query stopped reading before its end (100,000
// rows, or 256 MiB of values): a lineage report built from part of it
// would say less than the store holds without saying so.
func whole(res *localstore.QueryResult, err error) (*localstore.QueryResult, error) {
	if err == nil && res.Truncated {
		return nil, fmt.Errorf("the store holds more than one query reads (stopped after %d rows: 100,000 rows or 256 MiB of values); ask for one request or record", len(res.Rows))
	}
	return res, err
}

// requests reads the lineage rows of where, grouped by request in the
// order they come. A store no Tenancy with lineage wrote to has none.
func (c *lineageCmd) requests(where string) ([][]lineageRow, error) {
	q := func(upstream string) (*localstore.QueryResult, error) {
		return c.query(`SELECT ` + lineageCols + upstream + ` FROM lineage WHERE ` + where + ` ORDER BY accepted_unix_nano, lineage_id, id`)
	}
	res, err := q("upstream")
	if err != nil && strings.Contains(err.Error(), "no such column: upstream") {
		res, err = q("NULL") // a lineage table the collector has not migrated yet
	}
	if err != nil {
		if strings.Contains(err.Error(), "no such table: lineage") {
			return nil, nil
		}
		return nil, err
	}
	var out [][]lineageRow
	at := map[string]int{}
	for _, r := range res.Rows {
		l := scanLineage(r)
		i, ok := at[l.id]
		if !ok {
			i = len(out)
			at[l.id] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], l)
	}
	return out, nil
}

func runLineage(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("lineage", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, lineageUsage) }
	f.addWindow("requests accepted")
	signal := f.fs.String("signal", "logs", "logs, metrics or traces")
	record := f.fs.Int64("record", 0, "the record's row id")
	traceID := f.fs.String("trace-id", "", "every record of this trace (logs and traces)")
	anchors := f.fs.String("anchors", "", "anchor log (default: the store's own)")
	maxRequests := f.fs.Int("max", 1000, "with --since/--until, at most this many requests")
	if code := f.parse(args, true, stderr); code >= 0 {
		return code
	}
	table, ok := lineageTables[*signal]
	window := *f.since != "" || *f.until != ""
	modes := 0
	for _, on := range []bool{*record != 0, *traceID != "", window} {
		if on {
			modes++
		}
	}
	if !ok || modes != 1 || (*traceID != "" && table == "datapoints") {
		fmt.Fprintf(stderr, "tenancyctl lineage: want one of --record, --trace-id (logs, traces) or --since/--until, and --signal logs|metrics|traces\n\n%s", lineageUsage)
		return 2
	}
	if *traceID != "" && (strings.Trim(*traceID, "0123456789abcdef") != "" || len(*traceID) != 32) {
		fmt.Fprintf(stderr, "tenancyctl lineage: --trace-id: want 32 hex digits\n")
		return 2
	}
	lo, hi, code := f.window(stderr)
	if code >= 0 {
		return code
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl lineage: %v\n", err)
		return 1
	}
	defer s.Close()
	c := &lineageCmd{s: s, tenant: f.tenant, version: version, anchorLog: *anchors, tw: tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)}
	if c.anchorLog == "" {
		c.anchorLog = localstore.AnchorLog(f.data)
	}
	if fh, err := os.Open(c.anchorLog); err == nil {
		c.anchors, _ = s.ChainAnchors(f.tenant, fh) // no anchors: "not anchored yet"
		fh.Close()
	}
	if window {
		err = c.window(lo, hi, *maxRequests)
	} else {
		where := fmt.Sprintf("id = %d", *record)
		if *traceID != "" {
			where = "trace_id = " + sqlQuote(*traceID)
		}
		err = c.records(*signal, table, where)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl lineage: %v\n", err)
		return 1
	}
	if err := c.tw.Flush(); err != nil {
		return 1
	}
	return 0
}

// window prints every request accepted in [lo, hi), the first max of
// them, with every part of each (a delivery after hi too).
func (c *lineageCmd) window(lo, hi time.Time, max int) error {
	where := "1"
	if !lo.IsZero() {
		where += fmt.Sprintf(" AND accepted_unix_nano >= %d", lo.UnixNano())
	}
	if !hi.IsZero() {
		where += fmt.Sprintf(" AND accepted_unix_nano < %d", hi.UnixNano())
	}
	reqs, err := c.requests(fmt.Sprintf(`lineage_id IN (SELECT lineage_id FROM lineage WHERE %s
		GROUP BY lineage_id ORDER BY min(accepted_unix_nano), lineage_id LIMIT %d)`, where, max+1))
	if err != nil {
		return err
	}
	if len(reqs) == 0 {
		return fmt.Errorf("no request of %s was accepted in that window (or the store holds no lineage)", c.tenant)
	}
	for i, parts := range reqs {
		if i == max {
			fmt.Fprintf(c.tw, "... more requests: raise --max (%d) or narrow the window\n", max)
			break
		}
		fmt.Fprintf(c.tw, "request %s of %s\n", parts[0].id, c.tenant)
		c.request(parts, "")
	}
	return nil
}

// request prints a request's facts and each of its parts. indent leads
// every line.
func (c *lineageCmd) request(parts []lineageRow, indent string) {
	r := parts[0]
	line := func(label, format string, args ...any) {
		fmt.Fprintf(c.tw, "%s  %s\t%s\n", indent, label, printable(fmt.Sprintf(format, args...)))
	}
	line("accepted", "%s by collector %s", nanoTime(r.accepted), orNone(r.collector))
	sender := orNone(r.tenant)
	if r.credential != "" {
		sender += " with " + r.credential
	}
	if r.auth != "" {
		sender += " (" + r.auth + ")"
	}
	line("sent by", "%s", sender)
	line("from", "client %s, receiver %s", orNone(r.client), orNone(r.receiver))
	line("decision", "%s under policy version %s", orNone(r.decision), orNone(r.policyVersion))
	c.upstream(parts, line)
	for _, p := range parts {
		where := "stored here"
		if p.backend != "" {
			where = "delivered to " + p.backend
		}
		rows := ""
		if p.firstID != nil {
			rows = fmt.Sprintf(", rows %v..%v", p.firstID, p.lastID)
		}
		line(p.signal, "%d records %s at %s%s, audit entry seq %d%s", p.records, where, nanoTime(p.delivered), rows, p.auditSeq, c.anchored(p.auditSeq))
		line("  redacted", "%s", describeRedactions(p.redacted))
		line("  retention", "%s", describeRetention(p.retention))
	}
}

// upstream prints the edge requests a relayed request's parts came from.
func (c *lineageCmd) upstream(parts []lineageRow, line func(label, format string, args ...any)) {
	seen := map[string]bool{}
	for _, p := range parts {
		u, ok := identity.ParseLineage(p.upstream)
		if !ok || seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		sender := orNone(u.Tenant)
		if u.Credential != "" {
			sender += " with " + u.Credential
		}
		if u.Auth != "" {
			sender += " (" + u.Auth + ")"
		}
		line("upstream", "request %s accepted %s by collector %s: sent by %s from client %s, receiver %s, policy version %s",
			u.ID, nanoTime(u.Accepted), orNone(u.Collector), sender, orNone(u.Client), orNone(u.Receiver), orNone(u.PolicyVersion))
	}
}

// anchored says which anchor first covers audit entry seq.
func (c *lineageCmd) anchored(seq int64) string {
	if a, ok := localstore.FirstCovering(c.anchors, seq); ok {
		return fmt.Sprintf(", anchored %s (seq %d)", a.Time.Format(time.RFC3339), a.Seq)
	}
	return ", not anchored yet"
}

func describeRedactions(js string) string {
	var r struct {
		Values  int64            `json:"values"`
		Records int64            `json:"records"`
		Classes map[string]int64 `json:"classes"`
	}
	if json.Unmarshal([]byte(js), &r) != nil || (r.Values == 0 && r.Records == 0) {
		return "nothing"
	}
	names := make([]string, 0, len(r.Classes))
	for k := range r.Classes {
		names = append(names, k)
	}
	sort.Strings(names)
	per := make([]string, len(names))
	for i, k := range names {
		per[i] = fmt.Sprintf("%s in %d", k, r.Classes[k])
	}
	return fmt.Sprintf("%d values in %d records (%s)", r.Values, r.Records, strings.Join(per, ", "))
}

func describeRetention(js string) string {
	var r struct {
		Retention          string `json:"retention"`
		Residency          string `json:"residency"`
		ResidencyViolation string `json:"residency_violation"`
		Expired            int64  `json:"expired_flagged"`
		FutureSkew         int64  `json:"future_skew"`
	}
	if json.Unmarshal([]byte(js), &r) != nil {
		return "unknown"
	}
	out := "kept " + orNone(r.Retention)
	if r.Residency != "" {
		out += ", residency " + r.Residency
	}
	if r.ResidencyViolation != "" {
		out += ", seen in " + r.ResidencyViolation + " against it"
	}
	if r.Expired > 0 {
		out += fmt.Sprintf(", %d records flagged expired", r.Expired)
	}
	if r.FutureSkew > 0 {
		out += fmt.Sprintf(", %d records from the future aged from ingestion", r.FutureSkew)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// records prints the journey of each record of table matching where.
func (c *lineageCmd) records(signal, table, where string) error {
	res, err := c.query(`SELECT * FROM ` + table + ` WHERE ` + where + ` ORDER BY id`)
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		return fmt.Errorf("no such %s record in %s", signal, c.tenant)
	}
	col := map[string]int{}
	for i, name := range res.Columns {
		col[name] = i
	}
	for _, row := range res.Rows {
		id := row[col["id"]].(int64)
		fmt.Fprintf(c.tw, "%s record %d of %s\n", signal, id, c.tenant)
		fmt.Fprintf(c.tw, "  time\t%s\n", nanoTime(row[col["time_unix_nano"]]))
		var resource, attrs map[string]any
		_ = json.Unmarshal([]byte(cell(row[col["resource"]])), &resource)
		_ = json.Unmarshal([]byte(cell(row[col["attrs"]])), &attrs)
		var lineageRow int64
		if i, ok := col["lineage"]; ok {
			lineageRow, _ = row[i].(int64)
		}
		if err := c.recordRequest(signal, id, lineageRow, row[col["ingested_unix_nano"]]); err != nil {
			return err
		}
		for _, fact := range []struct{ label, key string }{
			{"fingerprint", identity.AttrFingerprint}, {"retention", identity.AttrRetention},
			{"quarantine", identity.AttrQuarantineReason}, {"authenticated", identity.AttrAuthenticated},
			{"credential", identity.AttrCredential}, {"source", identity.AttrSource}, {"claimed", identity.AttrClaimed},
		} {
			// tenant.claimed is the client's own word, and a reserved
			// pipeline stores what its topic held: escaped like the rest.
			if v, ok := resource[fact.key]; ok {
				fmt.Fprintf(c.tw, "  %s\t%s\n", fact.label, printable(fmt.Sprint(v)))
			}
		}
		if n, ok := resource[identity.AttrRedactionCount]; ok {
			fmt.Fprintf(c.tw, "  resource redacted\t%s\n", printable(fmt.Sprintf("%v values in %v records (%s) under policy %v", n, orUnknown(resource[identity.AttrRedactionRecords]),
				classesText(resource[identity.AttrRedactionClasses]), orUnknown(resource[identity.AttrRedactionPolicyVersion]))))
		}
		if cs, ok := attrs[identity.AttrRedactionClasses]; ok {
			fmt.Fprintf(c.tw, "  redacted\t%s\n", printable(recordRedaction(cs, attrs)))
		}
	}
	return nil
}

// recordRedaction describes what the redactor wrote on a record: the
// classes removed from it, and, on a record stored before the redactor
// moved them to the resource (issue 18), how many values and under
// which policy.
func recordRedaction(classes any, attrs map[string]any) string {
	out := classesText(classes)
	if n, ok := attrs[identity.AttrRedactionCount]; ok {
		out = fmt.Sprintf("%v values (%s)", n, out)
	}
	if v, ok := attrs[identity.AttrRedactionPolicyVersion]; ok {
		out += fmt.Sprintf(" under policy %v", v)
	}
	return out
}

func orUnknown(v any) any {
	if v == nil {
		return "(unknown)"
	}
	return v
}

func classesText(v any) string {
	if l, ok := v.([]any); ok {
		s := make([]string, len(l))
		for i, x := range l {
			s[i] = fmt.Sprint(x)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprint(v)
}

// recordRequest prints the request a record came in (its lineage column
// is its request's lineage row here) and where that went; a record
// without lineage is traced to its ingest entry by row id: the latest
// entry naming it, since an id retention freed at the table's end is
// taken again by the next batch (ids are one past the largest).
func (c *lineageCmd) recordRequest(signal string, id, lineageRow int64, ingested any) error {
	if lineageRow != 0 {
		reqs, err := c.requests(fmt.Sprintf("lineage_id = (SELECT lineage_id FROM lineage WHERE id = %d)", lineageRow))
		if err != nil {
			return err
		}
		if len(reqs) > 0 {
			fmt.Fprintf(c.tw, "  request\t%s\n", reqs[0][0].id)
			c.request(reqs[0], "")
			return nil
		}
		fmt.Fprintf(c.tw, "  request\tlineage row %d is gone\n", lineageRow)
	}
	entry, err := c.query(fmt.Sprintf(`SELECT seq, time, policy_version, json_extract(detail, '$.first_id'), json_extract(detail, '$.last_id') FROM audit
		WHERE kind = 'ingest' AND json_extract(detail, '$.signal') = '%s' AND %d BETWEEN json_extract(detail, '$.first_id') AND json_extract(detail, '$.last_id')
		ORDER BY seq DESC LIMIT 1`, signal, id))
	switch {
	case err != nil:
		return err
	case len(entry.Rows) == 0:
		fmt.Fprintf(c.tw, "  stored\t%s, by no ingest entry that names its id (written before ingest entries named row ids)\n", nanoTime(ingested))
	default:
		e := entry.Rows[0]
		fmt.Fprintf(c.tw, "  stored\t%s by audit entry seq %v, policy version %v, in a batch of rows %v..%v\n", e[1], e[0], e[2], e[3], e[4])
		if a, ok := localstore.FirstCovering(c.anchors, e[0].(int64)); ok {
			fmt.Fprintf(c.tw, "  anchored\t%s (seq %d, %s)\n", a.Time.Format(time.RFC3339), a.Seq, c.anchorLog)
		} else {
			fmt.Fprintf(c.tw, "  anchored\tnot yet (%s)\n", c.anchorLog)
		}
	}
	return nil
}

func nanoTime(v any) string {
	n, _ := v.(int64)
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}

// printable escapes control characters (Go's \x1b, \n, ...): the facts
// are what a client, or a writer of a tenant's Kafka topic for upstream,
// put there, and an escape sequence must not reach the investigator's
// terminal as one, nor a newline forge a line of the report.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
