package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
)

const lineageUsage = `Usage:
  tenancyctl lineage --data DIR --tenant T --signal logs|metrics|traces (--record ID | --trace-id X)
      The journey of a record (by its row id) or of every record of a
      trace: its time and ingestion time, the audit entry that stored it
      (seq, time, policy version, the batch's row ids), what the pipeline
      stamped on it (fingerprint, retention, redaction counts and classes,
      and for quarantined records the sender, credential id and source),
      and the first anchor that covers that entry. The query is audited.
`

var lineageTables = map[string]string{"logs": "logs", "metrics": "datapoints", "traces": "spans"}

func runLineage(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("lineage", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, lineageUsage) }
	signal := f.fs.String("signal", "logs", "logs, metrics or traces")
	record := f.fs.Int64("record", 0, "the record's row id")
	traceID := f.fs.String("trace-id", "", "every record of this trace (logs and traces)")
	anchors := f.fs.String("anchors", "", "anchor log (default: the store's own)")
	if code := f.parse(args, true, stderr); code >= 0 {
		return code
	}
	table, ok := lineageTables[*signal]
	if !ok || (*record == 0) == (*traceID == "") || (*traceID != "" && table == "datapoints") {
		fmt.Fprintf(stderr, "tenancyctl lineage: want --signal logs|metrics|traces and one of --record or --trace-id (logs, traces)\n\n%s", lineageUsage)
		return 2
	}
	where := fmt.Sprintf("id = %d", *record)
	if *traceID != "" {
		if strings.Trim(*traceID, "0123456789abcdef") != "" || len(*traceID) != 32 {
			fmt.Fprintf(stderr, "tenancyctl lineage: --trace-id: want 32 hex digits\n")
			return 2
		}
		where = "trace_id = '" + *traceID + "'"
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl lineage: %v\n", err)
		return 1
	}
	defer s.Close()
	q := func(sql string) (*localstore.QueryResult, error) {
		return s.Query(context.Background(), f.tenant, sql, localstore.QueryOptions{Actor: actor()}, version)
	}
	res, err := q(`SELECT id, time_unix_nano, ingested_unix_nano, resource, attrs FROM ` + table + ` WHERE ` + where + ` ORDER BY id`)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl lineage: %v\n", err)
		return 1
	}
	if len(res.Rows) == 0 {
		fmt.Fprintf(stderr, "tenancyctl lineage: no such %s record in %s\n", *signal, f.tenant)
		return 1
	}
	anchorLog := *anchors
	if anchorLog == "" {
		anchorLog = localstore.AnchorLog(f.data)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, row := range res.Rows {
		id := row[0].(int64)
		fmt.Fprintf(tw, "%s record %d of %s\n", *signal, id, f.tenant)
		fmt.Fprintf(tw, "  time\t%s\n", nanoTime(row[1]))
		var resource, attrs map[string]any
		_ = json.Unmarshal([]byte(cell(row[3])), &resource)
		_ = json.Unmarshal([]byte(cell(row[4])), &attrs)
		entry, err := q(fmt.Sprintf(`SELECT seq, time, policy_version, json_extract(detail, '$.first_id'), json_extract(detail, '$.last_id') FROM audit
			WHERE kind = 'ingest' AND json_extract(detail, '$.signal') = '%s' AND %d BETWEEN json_extract(detail, '$.first_id') AND json_extract(detail, '$.last_id')`, *signal, id))
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "tenancyctl lineage: %v\n", err)
			return 1
		case len(entry.Rows) == 0:
			fmt.Fprintf(tw, "  stored\t%s, by no ingest entry that names its id (written before ingest entries named row ids)\n", nanoTime(row[2]))
		default:
			e := entry.Rows[0]
			fmt.Fprintf(tw, "  stored\t%s by audit entry seq %v, policy version %v, in a batch of rows %v..%v\n", e[1], e[0], e[2], e[3], e[4])
			if a, ok := firstAnchor(s, f.tenant, e[0].(int64), anchorLog); ok {
				fmt.Fprintf(tw, "  anchored\t%s (seq %d, %s)\n", a.Time.Format(time.RFC3339), a.Seq, anchorLog)
			} else {
				fmt.Fprintf(tw, "  anchored\tnot yet (%s)\n", anchorLog)
			}
		}
		for _, fact := range []struct{ label, key string }{
			{"fingerprint", identity.AttrFingerprint}, {"retention", identity.AttrRetention},
			{"quarantine", identity.AttrQuarantineReason}, {"sent by", identity.AttrAuthenticated},
			{"credential", identity.AttrCredential}, {"source", identity.AttrSource}, {"claimed", identity.AttrClaimed},
		} {
			if v, ok := resource[fact.key]; ok {
				fmt.Fprintf(tw, "  %s\t%v\n", fact.label, v)
			}
		}
		if n, ok := attrs[identity.AttrRedactionCount]; ok {
			fmt.Fprintf(tw, "  redacted\t%v values (%v) under policy %v\n", n, attrs[identity.AttrRedactionClasses], attrs[identity.AttrRedactionPolicyVersion])
		}
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func nanoTime(v any) string {
	n, _ := v.(int64)
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}

func firstAnchor(s *localstore.Store, tenant string, seq int64, path string) (localstore.Anchor, bool) {
	fh, err := os.Open(path)
	if err != nil {
		return localstore.Anchor{}, false
	}
	defer fh.Close()
	a, ok, _ := s.FirstAnchorCovering(tenant, seq, fh)
	return a, ok
}
