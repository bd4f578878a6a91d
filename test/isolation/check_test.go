package isolation_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor"
)

// violations groups what broke by kind, with a few examples each.
type violations struct {
	m map[string]*violation
}

type violation struct {
	n        int
	examples []string
}

func (v *violations) add(kind, format string, args ...any) {
	if v.m == nil {
		v.m = map[string]*violation{}
	}
	x := v.m[kind]
	if x == nil {
		x = &violation{}
		v.m[kind] = x
	}
	x.n++
	if len(x.examples) < 4 {
		x.examples = append(x.examples, clip(fmt.Sprintf(format, args...), 240))
	}
}

func (v *violations) report(t *testing.T) {
	kinds := make([]string, 0, len(v.m))
	for k := range v.m {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		x := v.m[k]
		t.Errorf("%s: %d, e.g.\n\t%s", k, x.n, strings.Join(x.examples, "\n\t"))
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// checker reads every store back and holds each stored row to the
// expectations of the record it carries.
type checker struct {
	w     *world
	exp   map[int64]*recordExp
	found map[int64]bool // stored where it belongs
	rows  map[string]int // per store
	v     violations
}

const pageRows = 2000

var tables = []string{"logs", "datapoints", "spans"}

// readStores checks every row of every table of every store under dir.
// Each row comes back as one JSON object of all its columns, so a
// tenant's store is read in one query (each query opens the database and
// appends to its audit log); the quarantine, which holds far more, is read
// a page at a time.
func (c *checker) readStores(t *testing.T, dir string, master []byte) {
	s, err := localstore.Open(dir, master)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names, err := s.Tenants()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no store holds anything")
	}
	query := func(name, q string) *localstore.QueryResult {
		res, err := s.Query(context.Background(), name, q, localstore.QueryOptions{MaxRows: 1 << 20, Actor: "isolation test"}, "")
		if err != nil {
			t.Fatalf("store %s: %s: %v", name, clip(q, 200), err)
		}
		if res.Truncated {
			t.Fatalf("store %s: %s: truncated", name, clip(q, 200))
		}
		return res
	}
	// rowsOf selects table's rows as ('table', id, {column: value}).
	rowsOf := map[string]string{}
	for _, table := range tables {
		var pairs []string
		for _, col := range query(names[0], "SELECT * FROM "+table+" LIMIT 0").Columns {
			pairs = append(pairs, fmt.Sprintf("'%s', %s", col, col))
		}
		rowsOf[table] = fmt.Sprintf("SELECT '%s', id, json_object(%s) FROM %s", table, strings.Join(pairs, ", "), table)
	}
	for _, name := range names {
		if name != policy.Quarantine {
			c.rowsOf(name, query(name, rowsOf["logs"]+" UNION ALL "+rowsOf["datapoints"]+" UNION ALL "+rowsOf["spans"]))
			continue
		}
		for _, table := range tables {
			for last := int64(0); ; {
				res := query(name, fmt.Sprintf("%s WHERE id > %d ORDER BY id LIMIT %d", rowsOf[table], last, pageRows))
				last = c.rowsOf(name, res)
				if len(res.Rows) < pageRows {
					break
				}
			}
		}
	}
}

// rowsOf checks the rows of one query and returns the last row's id.
func (c *checker) rowsOf(store string, res *localstore.QueryResult) int64 {
	var id int64
	for _, r := range res.Rows {
		table, _ := r[0].(string)
		id, _ = r[1].(int64)
		js, _ := r[2].(string)
		var cols map[string]any
		if err := unmarshal(js, &cols); err != nil {
			c.v.add("stored row unreadable", "%s %s row %d: %v", store, table, id, err)
			continue
		}
		c.row(store, table, id, cols)
	}
	return id
}

// where names a stored value for a report.
type where struct {
	store, table, col string
	id                int64
}

// class says which kind of store, for the report: in _quarantine every
// tenant's identifier is foreign.
func (w where) class() string {
	if w.store == policy.Quarantine {
		return " (_quarantine)"
	}
	return " (a tenant's store)"
}

func (w where) String() string { return fmt.Sprintf("%s %s.%s row %d", w.store, w.table, w.col, w.id) }

// row checks one stored row, given as its columns.
func (c *checker) row(store, table string, id int64, cols map[string]any) {
	c.rows[store]++
	owner := -1 // _quarantine and unknown stores have no owner
	if i, ok := c.w.index[store]; ok {
		owner = i
	}
	var attrs, resource map[string]any
	for col, v := range cols {
		at := where{store, table, col, id}
		switch val := v.(type) {
		case json.Number:
			if n, err := val.Int64(); err == nil && strings.HasSuffix(col, "_unix_nano") && n < 0 {
				c.v.add("timestamp stored negative (overflowed int64) in "+table+"."+col, "%s: %d", at, n)
			}
		case string:
			switch col {
			case "attrs":
				attrs = c.jsonMap(at, val)
				c.walk(at, attrs, 0, store == policy.Quarantine, false)
			case "resource":
				resource = c.jsonMap(at, val)
				c.walk(at, resource, 0, store == policy.Quarantine, true)
			case "events":
				var evs []map[string]any
				if err := unmarshal(val, &evs); err != nil {
					c.v.add("stored JSON unreadable", "%s: %v", at, err)
				}
				for _, ev := range evs {
					if name, ok := ev["name"].(string); ok {
						c.text(where{store, table, "events.name", id}, name, owner)
					}
					if m, ok := ev["attrs"].(map[string]any); ok {
						c.walk(where{store, table, "events.attrs", id}, m, 0, false, false)
					}
				}
			case "detail":
				// numbers only
			default:
				c.text(at, val, owner)
			}
		}
	}
	c.place(where{store, table, "attrs", id}, attrs, resource)
	c.audit(where{store, table, "attrs", id}, attrs, resource)
}

// audit checks a stored record's redaction audit against its resource's:
// a record the redactor changed carries its classes, and its resource the
// values and records changed (at least one), all their classes and the
// policy version.
func (c *checker) audit(at where, attrs, resource map[string]any) {
	cls, ok := attrs[identity.AttrRedactionClasses].([]any)
	if !ok {
		return
	}
	positive := func(k string) bool {
		n, ok := resource[k].(json.Number)
		if !ok {
			return false
		}
		i, err := n.Int64()
		return err == nil && i > 0
	}
	all, _ := resource[identity.AttrRedactionClasses].([]any)
	version, _ := resource[identity.AttrRedactionPolicyVersion].(string)
	if len(cls) == 0 || !positive(identity.AttrRedactionCount) || !positive(identity.AttrRedactionRecords) || version == "" {
		c.v.add("redacted record without its resource's audit", "%s: classes %v, resource %v", at, cls, resource)
		return
	}
	for _, x := range cls {
		if !slices.Contains(all, x) {
			c.v.add("redacted record's class missing from its resource's", "%s: %v not in %v", at, x, all)
		}
	}
}

func unmarshal(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return d.Decode(v)
}

func (c *checker) jsonMap(at where, s string) map[string]any {
	var m map[string]any
	if err := unmarshal(s, &m); err != nil {
		c.v.add("stored JSON unreadable", "%s: %v", at, err)
	}
	return m
}

// text holds one stored string to the rules for every string: no foreign
// identifier, no forged value, also once decoded from base64 (bytes
// values are stored so).
func (c *checker) text(at where, s string, owner int) {
	if strings.Contains(s, forged) {
		c.v.add("client value under a tenant.* key stored, in "+at.table+"."+at.col, "%s: %q", at, s)
	}
	if ident, ok := c.w.foreign(s, owner); ok {
		c.v.add("foreign identifier stored in "+at.table+"."+at.col+at.class(), "%s: %s in %q", at, ident, s)
	}
	if len(s) >= 8 && len(s)%4 == 0 {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && utf8.Valid(b) {
			if ident, ok := c.w.foreign(string(b), owner); ok {
				c.v.add("foreign identifier stored in a bytes value in "+at.table+"."+at.col+at.class(), "%s: %s in base64 of %q", at, ident, b)
			}
			if strings.Contains(string(b), forged) {
				c.v.add("client value under a tenant.* key stored (bytes), in "+at.table+"."+at.col, "%s: %q", at, b)
			}
		}
	}
}

// Keys the pipeline writes under tenant.* at the top of a record's
// attributes: the redactor's class list (its counts and policy version are
// on the resource) and the retention processor's note of a future
// timestamp it moved back. Any other tenant.* key there, or at any depth,
// is a client's.
var recordKeys = map[string]bool{
	identity.AttrRedactionClasses:    true,
	"tenant.retention.original_time": true,
}

// pipelineKey reports whether the pipeline writes tenant.* key k at the
// top of a resource (res) or of a record's attributes.
func pipelineKey(k string, res bool) bool {
	if !res {
		return recordKeys[k]
	}
	return identity.PipelineKey(k) || k == tenantretentionprocessor.AttrRetention || k == tenantretentionprocessor.AttrResidency
}

// walk checks a stored attribute map: keys and string values as text, and
// no client tenant.* key at any depth. The quarantine's tenant.claimed
// keeps the client's claims verbatim by design: it is not scanned for
// identifiers.
func (c *checker) walk(at where, v any, depth int, quarantine, res bool) {
	owner := -1
	if i, ok := c.w.index[at.store]; ok {
		owner = i
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if strings.HasPrefix(k, identity.AttrPrefix) {
				if depth > 0 || !pipelineKey(k, res) {
					c.v.add("client tenant.* key stored in "+at.table+"."+at.col, "%s: key %q = %v", at, k, val)
				}
				if (k == identity.AttrRedactionCount || k == identity.AttrRedactionRecords) && fmt.Sprint(val) == fmt.Sprint(forgedCount) {
					c.v.add("client value under a tenant.* key stored, in "+at.table+"."+at.col, "%s: %s = %v", at, k, val)
				}
				if depth == 0 && res && quarantine && k == identity.AttrClaimed {
					if s, _ := val.(string); strings.Contains(s, forged) {
						c.v.add("client value under a tenant.* key stored, in "+at.table+"."+at.col, "%s: %s = %q", at, k, s)
					}
					continue
				}
			}
			c.text(at, k, owner)
			c.walk(at, val, depth+1, quarantine, res)
		}
	case []any:
		for _, e := range x {
			c.walk(at, e, depth+1, quarantine, res)
		}
	case string:
		c.text(at, x, owner)
	}
}

// place checks that the row's record is where it belongs, and that a
// quarantined one says who sent it.
func (c *checker) place(at where, attrs, resource map[string]any) {
	if at.store == policy.Governance && isAnchor(attrs) {
		return // the router's own record of an audit chain head
	}
	n, _ := attrs[seqKey].(json.Number)
	seq, err := n.Int64()
	rec := c.exp[seq]
	if err != nil || rec == nil {
		c.v.add("row without its record's probe.seq (attributes erased, or not a record the test sent)", "%s: attrs %v", at, attrs)
		return
	}
	sender := c.w.tenants[rec.res.sender]
	want := sender.id
	if rec.res.dest == destQuarantine {
		want = policy.Quarantine
	}
	switch {
	case at.store != sender.id && at.store != policy.Quarantine:
		c.v.add("CROSSING: a record stored neither in its sender's store nor in _quarantine", "%s: seq %d sent by %s", at, seq, sender.id)
	case rec.expired:
		c.v.add("record older than its retention stored", "%s: seq %d", at, seq)
	case at.store != want:
		c.v.add("record in the wrong one of sender/_quarantine", "%s: seq %d from %s belongs in %s (reason %q)", at, seq, sender.id, want, rec.res.reason)
	default:
		c.found[seq] = true
	}
	if resource == nil {
		c.v.add("resource attributes erased", "%s: seq %d", at, seq)
		return
	}
	at.col = "resource"
	if got, _ := resource[identity.AttrTenantID].(string); got != at.store {
		c.v.add("resource tenant.id is not the store's tenant", "%s: tenant.id %v", at, resource[identity.AttrTenantID])
	}
	if at.store != policy.Quarantine || at.store != want {
		return
	}
	for k, w := range map[string]string{
		identity.AttrAuthenticated:    sender.id,
		identity.AttrCredential:       sender.keyID,
		identity.AttrQuarantineReason: rec.res.reason,
	} {
		if got, _ := resource[k].(string); got != w {
			c.v.add("quarantined record not attributed: "+k, "%s: seq %d from %s: %s = %v, want %q", at, seq, sender.id, k, resource[k], w)
		}
	}
	if src, _ := resource[identity.AttrSource].(string); src == "" {
		c.v.add("quarantined record not attributed: "+identity.AttrSource, "%s: seq %d: no client address", at, seq)
	}
	claimed, _ := resource[identity.AttrClaimed].(string)
	for _, cl := range rec.res.claims {
		if !strings.Contains(claimed, cl) {
			c.v.add("quarantined record lost its claim (tenant.claimed)", "%s: seq %d: claimed %q, want it to hold %q", at, seq, claimed, cl)
		}
	}
}

// lost reports every record the caller was told was accepted that is
// stored nowhere it belongs.
func (c *checker) lost() (stored, quarantined, expired, refused int) {
	for seq, rec := range c.exp {
		switch {
		case rec.expired:
			expired++
		case c.found[seq] && rec.res.dest == destQuarantine:
			quarantined++
		case c.found[seq]:
			stored++
		case rec.req.err != nil:
			refused++
		default:
			c.v.add("LOST: accepted record stored nowhere ("+rec.signal+")", "seq %d from %s, bound for %v",
				seq, c.w.tenants[rec.res.sender].id, map[dest]string{destSender: "its store", destQuarantine: "_quarantine"}[rec.res.dest])
		}
	}
	return
}

// isAnchor says whether a _governance row is an audit anchor the router
// wrote (every anchor_interval, so a long run stores some): exactly the
// anchor's attributes, nothing a client sent.
func isAnchor(attrs map[string]any) bool {
	keys := []string{tenantrouterexporter.AttrAnchorTenant, tenantrouterexporter.AttrAnchorChain,
		tenantrouterexporter.AttrAnchorSeq, tenantrouterexporter.AttrAnchorHash}
	if len(attrs) != len(keys) {
		return false
	}
	for _, k := range keys {
		if _, ok := attrs[k]; !ok {
			return false
		}
	}
	return true
}
