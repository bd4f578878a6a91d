// Command continuitydrill measures what restoring a tenant of the local
// store takes: it fills a tenant to a size, backs it up online (the floor
// of the RPO: with a backup every interval I, up to I plus this much data
// is lost), restores it into an empty store and verifies it (the RTO:
// the time until the tenant is back and proven whole), and prints both
// against the RPO and RTO given (a tier's continuity targets).
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

func main() {
	size := flag.Int64("size", 1<<30, "tenant database size to fill to, bytes")
	rpo := flag.Duration("rpo", time.Hour, "the recovery point objective (without -policy)")
	rto := flag.Duration("rto", 15*time.Minute, "the recovery time objective (without -policy)")
	policyFile := flag.String("policy", "", "take rpo and rto from this policy's continuity for -tenant")
	tenant := flag.String("tenant", "", "with -policy: the tenant (its tier's targets; default: the defaults)")
	dir := flag.String("dir", "", "working folder (default: a temporary one, removed after)")
	flag.Parse()
	if *policyFile != "" {
		p, err := policy.Load(*policyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "continuitydrill:", err)
			os.Exit(2)
		}
		c := p.Defaults.Continuity
		if t, ok := p.Tenant(*tenant); ok {
			c = t.Continuity
		}
		if c.RPO == 0 || c.RTO == 0 {
			fmt.Fprintf(os.Stderr, "continuitydrill: %s sets no continuity {rpo, rto} for %q\n", *policyFile, *tenant)
			os.Exit(2)
		}
		*rpo, *rto = c.RPO, c.RTO
		fmt.Printf("targets from %s (tenant %q): rpo %s, rto %s\n", *policyFile, *tenant, c.RPO, c.RTO)
	}
	if err := run(*size, *rpo, *rto, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "continuitydrill:", err)
		os.Exit(1)
	}
}

func run(size int64, rpo, rto time.Duration, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "continuitydrill-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	master := make([]byte, localstore.KeySize)
	if _, err := rand.Read(master); err != nil {
		return err
	}
	src, err := localstore.Open(filepath.Join(dir, "store"), master)
	if err != nil {
		return err
	}
	defer src.Close()

	start := time.Now()
	records, err := fill(src, "acme", size, filepath.Join(dir, "store", "acme", "data.db"))
	if err != nil {
		return err
	}
	fill := time.Since(start)
	fmt.Printf("filled acme: %d records in %s (%.0f records/s)\n", records, fill.Round(time.Millisecond), float64(records)/fill.Seconds())

	start = time.Now()
	info, err := src.Backup("acme", filepath.Join(dir, "backup"), "drill")
	if err != nil {
		return err
	}
	backup := time.Since(start)

	dst, err := localstore.Open(filepath.Join(dir, "restored"), master)
	if err != nil {
		return err
	}
	defer dst.Close()
	start = time.Now()
	if _, err := dst.Restore(filepath.Join(dir, "backup", "acme"), "drill"); err != nil {
		return err
	}
	restore := time.Since(start)
	start = time.Now()
	res, err := dst.VerifyAudit("acme")
	if err != nil {
		return err
	}
	verify := time.Since(start)
	if res.Rows != info.Rows {
		return fmt.Errorf("restored %d rows, backed up %d", res.Rows, info.Rows)
	}

	rtoGot := restore + verify
	interval := rpo - backup
	fmt.Printf("tenant: %d bytes, %d rows, audit head seq %d\n", info.Bytes, info.Rows, info.HeadSeq)
	fmt.Printf("backup (online, verified): %s\n", backup.Round(time.Millisecond))
	fmt.Printf("restore (copy, verified): %s; audit verify after it: %s\n", restore.Round(time.Millisecond), verify.Round(time.Millisecond))
	fmt.Println(strings.Repeat("-", 60))
	fmt.Printf("RTO measured %s against %s: %s\n", rtoGot.Round(time.Millisecond), rto, verdict(rtoGot <= rto))
	if interval > 0 {
		fmt.Printf("RPO %s holds with a backup at least every %s (backup takes %s): %s\n", rpo, interval.Round(time.Second), backup.Round(time.Millisecond), verdict(true))
	} else {
		fmt.Printf("RPO %s: a backup alone takes %s: %s\n", rpo, backup.Round(time.Millisecond), verdict(false))
	}
	if rtoGot > rto || interval <= 0 {
		return fmt.Errorf("the continuity targets are not met")
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

// fill writes batches of 1,000 log records of about 300 bytes until the
// tenant's database file reaches size.
func fill(s *localstore.Store, tenant string, size int64, path string) (int, error) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", tenant)
	rl.Resource().Attributes().PutStr("service.name", "shop")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 1000 {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("GET /api/orders/%d 200 12ms user=%d agent=Mozilla/5.0 (X11; Linux x86_64) session=%032x", i, i*7, i*7919))
		lr.Attributes().PutStr("http.route", "/api/orders/{id}")
		lr.Attributes().PutInt("http.status_code", 200)
	}
	records := 0
	for {
		now := pcommon.NewTimestampFromTime(time.Now())
		for _, lr := range sl.LogRecords().All() {
			lr.SetTimestamp(now)
		}
		if err := s.WriteLogs(tenant, ld, "drill"); err != nil {
			return records, err
		}
		records += 1000
		if records%100000 == 0 {
			st, err := os.Stat(path)
			if err != nil {
				return records, err
			}
			// The WAL holds what is not checkpointed yet: count it too.
			if wal, err := os.Stat(path + "-wal"); err == nil && st.Size()+wal.Size() >= size {
				return records, nil
			} else if st.Size() >= size {
				return records, nil
			}
		}
	}
}
