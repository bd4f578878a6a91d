package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

const quarantineUsage = `Usage:
  tenancyctl quarantine --data DIR [--by TENANT] [--reason R] [--since S] [--until U] [--format table|json|csv]
      The quarantined records (every signal), oldest first, with who sent
      them (the authenticated tenant), the tenants they claimed, why they
      were quarantined, the credential id, the source and what they were
      (a log's body, a metric's or a span's name: its first 256
      characters, then "…"; tenancyctl query gives it whole). --by keeps one
      sender's, --reason one reason's (spoofed, unknown, ...). The query
      is audited in _quarantine's audit log.
`

var reasonPattern = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// previewChars is how much of a record's body or name the listing shows:
// whole values would let one sender's few huge records fill the query's
// byte budget and push every other sender's rows out of the listing.
const previewChars = 256

// quarantineSQL lists _quarantine's records of every signal, by and
// reason quoted in (a tenant id may hold a quote).
func quarantineSQL(by, reason string) string {
	quote := func(v string) string { return `'` + strings.ReplaceAll(v, `'`, `''`) + `'` }
	col := func(key string) string { return `json_extract(resource, '$."` + key + `"')` }
	cols := func(signal, what string) string {
		return `SELECT '` + signal + `' AS signal, id, time_unix_nano, ` + col(identity.AttrAuthenticated) + ` AS sender, ` +
			col(identity.AttrClaimed) + ` AS claimed, ` + col(identity.AttrQuarantineReason) + ` AS reason, ` +
			col(identity.AttrCredential) + ` AS credential, ` + col(identity.AttrSource) + ` AS source, ` + preview(what) + ` AS what FROM `
	}
	q := `SELECT * FROM (` + cols("logs", "body") + `logs UNION ALL ` + cols("metrics", "metric_name") + `datapoints UNION ALL ` +
		cols("traces", "name") + `spans)`
	var where []string
	if by != "" {
		where = append(where, `sender = `+quote(by))
	}
	if reason != "" {
		where = append(where, `reason = `+quote(reason))
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return q + ` ORDER BY time_unix_nano, signal, id`
}

// preview is the SQL of column c's first previewChars characters, with
// "…" after it when it is longer.
func preview(c string) string {
	n := fmt.Sprint(previewChars)
	return `CASE WHEN length(` + c + `) > ` + n + ` THEN substr(` + c + `, 1, ` + n + `) || '…' ELSE ` + c + ` END`
}

func runQuarantine(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("quarantine", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, quarantineUsage) }
	by := f.fs.String("by", "", "only records this authenticated tenant sent")
	reason := f.fs.String("reason", "", "only records quarantined for this reason")
	f.addWindow("records")
	format := f.fs.String("format", "table", "table, json or csv")
	if code := f.parse(args, false, stderr); code >= 0 {
		return code
	}
	if *by != "" {
		if err := policy.ValidateTenantID(*by); err != nil {
			fmt.Fprintf(stderr, "tenancyctl quarantine: --by: %v\n", err)
			return 2
		}
	}
	if *reason != "" && !reasonPattern.MatchString(*reason) {
		fmt.Fprintf(stderr, "tenancyctl quarantine: --reason: want a reason like spoofed, found %q\n", *reason)
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
		fmt.Fprintf(stderr, "tenancyctl quarantine: %v\n", err)
		return 1
	}
	defer s.Close()
	res, err := s.Query(context.Background(), policy.Quarantine, quarantineSQL(*by, *reason), localstore.QueryOptions{Since: lo, Until: hi, Actor: actor()}, version)
	if errors.Is(err, localstore.ErrNoTenant) {
		fmt.Fprintln(stderr, "tenancyctl quarantine: nothing was ever quarantined in this store")
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl quarantine: %v\n", err)
		return 1
	}
	if err := writeResult(stdout, *format, res); err != nil {
		fmt.Fprintf(stderr, "tenancyctl quarantine: %v\n", err)
		return 1
	}
	if res.Truncated {
		fmt.Fprintf(stderr, "tenancyctl quarantine: stopped after %d rows (100,000 rows, or 256 MiB of values): narrow --since/--until\n", len(res.Rows))
	}
	return 0
}
