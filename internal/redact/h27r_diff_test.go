package redact

// A byte-for-byte guard of what the redactor writes (helper h27r, issue
// 18): generated batches of logs and traces under four policies (the
// hostile review h26z's three and bench-e2e's ten tenants masking
// e-mail), redacted, marshaled as OTLP JSON with their Stats, and hashed.
// The digest is the base commit's (554c925, the file copied into a
// worktree of it and run there): a change to the scan, the detectors or
// the audit write that moves one byte of output, one count or one class
// of any record here fails it. A deliberate change of output makes a new
// digest, and says so.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// h27rDigest is TestH27rOutputIsBase's digest at 554c925.
const h27rDigest = "0adb25a85ce283eb3956e0dbcb570de932ef5f64531cdfae582ac359567ad52a"

// h27rEmails are e-mail-like pieces at the edges of findEmails' rules:
// local parts of 64 and 65 bytes, '@' next to '@', dots, hyphens, a
// top-level domain of 24 and 25 letters, a word byte after it, bytes past
// ASCII beside it.
var h27rEmails = []string{
	"jane.doe@example.com", "jane.doe.4411@example.com", strings.Repeat("l", 64) + "@b.com", strings.Repeat("l", 65) + "@b.com",
	"a@@b.com", "@@a.b@c.de", "x@y.co@z.org", "a@b.com.c@d.org", "a@-b.com", "a@b-.com", "a@b..com", "a@.com", "a@b.c",
	"a@b." + strings.Repeat("t", 24), "a@b." + strings.Repeat("t", 25), "a@b.com_x", "a@b.c0m", "é@b.com", "a@é.com",
	"mailto:J.Doe+tag@Example.COM,", "%@b.co", "_@b.co", "a.b-c_d%e+f@sub.t00005.example", "user@t00003.example",
}

func h27rString(r *rand.Rand) string {
	s := h26zString(r)
	if r.IntN(3) != 0 {
		return s
	}
	e := h27rEmails[r.IntN(len(h27rEmails))]
	at := r.IntN(len(s) + 1)
	sep := []string{"", " ", ",", ".", "-", "\"", "<", "_", "9"}[r.IntN(9)]
	return s[:at] + sep + e + sep + s[at:]
}

// h27rDirtyLogs is bench-e2e's dirty record shape (redactbench's tenants):
// a body naming another tenant's domain, an e-mail attribute, severity
// Info, under resources of several owners.
func h27rDirtyLogs(r *rand.Rand) plog.Logs {
	ld := plog.NewLogs()
	for range 1 + r.IntN(3) {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, redactbench.TenantName(r.IntN(11)))
		sl := rl.ScopeLogs().AppendEmpty()
		for range r.IntN(9) {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetSeverityText("Info")
			other := redactbench.TenantName(r.IntN(11))
			switch r.IntN(3) {
			case 0:
				lr.Body().SetStr(fmt.Sprintf("payment retry for a customer of %s.example, order %d failed at checkout", other, r.IntN(10000)))
			case 1:
				lr.Body().SetStr(h27rString(r))
			default:
				lr.Body().SetStr("payment retry for a customer of shop.example.org, order 4411 failed at checkout")
			}
			if r.IntN(4) != 0 {
				lr.Attributes().PutStr("customer.email", h27rEmails[r.IntN(len(h27rEmails))])
			}
			if r.IntN(5) == 0 {
				lr.Attributes().PutStr("note", h27rString(r))
			}
		}
	}
	return ld
}

func h27rTraces(r *rand.Rand, owners []string) ptrace.Traces {
	td := ptrace.NewTraces()
	for range 1 + r.IntN(3) {
		rs := td.ResourceSpans().AppendEmpty()
		if o := owners[r.IntN(len(owners))]; o != "" {
			rs.Resource().Attributes().PutStr(identity.AttrTenantID, o)
		}
		ss := rs.ScopeSpans().AppendEmpty()
		for range r.IntN(6) {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(h27rString(r))
			for range r.IntN(4) {
				sp.Attributes().PutStr([]string{"msg", "user.email", "http.url", "db.statement", "password", "note"}[r.IntN(6)], h27rString(r))
			}
			if r.IntN(3) == 0 {
				ev := sp.Events().AppendEmpty()
				ev.SetName(h27rString(r))
				ev.Attributes().PutStr("exception.message", h27rString(r))
			}
			if r.IntN(4) == 0 {
				sp.Status().SetMessage(h27rString(r))
			}
		}
	}
	return td
}

func h27rStats(h hash.Hash, st Stats) {
	var lines []string
	for k, v := range st.Redactions {
		lines = append(lines, fmt.Sprintf("r %s %s %d", k.Tenant, k.Class, v))
	}
	for k, v := range st.Records {
		lines = append(lines, fmt.Sprintf("n %s %d", k, v))
	}
	slices.Sort(lines)
	fmt.Fprintln(h, strings.Join(lines, "\n"))
}

// h27rOutput redacts the generated batches and hashes their output.
func h27rOutput(t *testing.T) string {
	opts := Options{HashKeys: map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, ActiveHashKey: "k1"}
	pols := h26zPolicies(t)
	pols["dirty10"] = h26rPolicy(t, 10)
	owners := map[string][]string{"dirty10": {redactbench.TenantName(1), redactbench.TenantName(5), "", "nobody"}}
	for k, v := range h26zOwners {
		owners[k] = v
	}
	h := sha256.New()
	var lm plog.JSONMarshaler
	var tm ptrace.JSONMarshaler
	for _, name := range []string{"bench", "dirty10", "rules", "testdata"} {
		rd, err := New(pols[name], opts)
		require.NoError(t, err)
		r := rand.New(rand.NewPCG(271, uint64(len(name))))
		for range 1500 {
			ld := h26zLogs(r, owners[name])
			h27rStats(h, rd.Logs(ld))
			b, err := lm.MarshalLogs(ld)
			require.NoError(t, err)
			h.Write(b)
			ld = h27rDirtyLogs(r)
			h27rStats(h, rd.Logs(ld))
			b, err = lm.MarshalLogs(ld)
			require.NoError(t, err)
			h.Write(b)
			td := h27rTraces(r, owners[name])
			h27rStats(h, rd.Traces(td))
			b, err = tm.MarshalTraces(td)
			require.NoError(t, err)
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestH27rOutputIsBase: the generated batches' output is 554c925's, byte
// for byte.
func TestH27rOutputIsBase(t *testing.T) {
	require.Equal(t, h27rDigest, h27rOutput(t))
}
