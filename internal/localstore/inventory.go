package localstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// TenantInfo describes one tenant's folder in a store, for an operator's
// inventory: what is there, how big, which master key wraps it, and the
// time span of its records.
type TenantInfo struct {
	Tenant string `json:"tenant"`
	// Bytes is the size of every file in the tenant's folder (database,
	// WAL, key file).
	Bytes int64 `json:"bytes"`
	// MasterKeyID names the master key the tenant's data key is wrapped
	// with (KeyID); empty when the key file is missing or shredded.
	MasterKeyID string `json:"master_key_id,omitempty"`
	// Records counts logs, data points and spans; Oldest and Newest are
	// their earliest and latest record times. Known only when the
	// database could be opened (the master key given unwraps its key).
	Records int64     `json:"records"`
	Oldest  time.Time `json:"oldest,omitzero"`
	Newest  time.Time `json:"newest,omitzero"`
	// Shredded is set once the tenant's data key was destroyed.
	Shredded bool `json:"shredded,omitempty"`
	// Unreadable says why the records could not be counted (no master
	// key, a different master key, a damaged file).
	Unreadable string `json:"unreadable,omitempty"`
}

// Inventory lists every tenant folder under dir. With master nil it reads
// only the file system (sizes, key ids); with a master key it opens each
// database read-only for its record count and time span. It writes
// nothing, to the databases or their audit logs: it reads aggregates, not
// records.
func Inventory(dir string, master []byte) ([]TenantInfo, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	s := &Store{dir: dir, master: master}
	tenants, err := s.Tenants()
	if err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	out := make([]TenantInfo, 0, len(tenants))
	for _, t := range tenants {
		out = append(out, s.tenantInfo(t))
	}
	return out, nil
}

func (s *Store) tenantInfo(tenant string) TenantInfo {
	info := TenantInfo{Tenant: tenant}
	tdir := filepath.Join(s.dir, tenant)
	if entries, err := os.ReadDir(tdir); err == nil {
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
				info.Bytes += fi.Size()
			}
		}
	}
	if _, shredded, _ := readTombstone(tdir); shredded {
		info.Shredded = true
		info.Unreadable = "crypto-shredded"
		return info
	}
	if kf, err := readKeyFile(tdir, tenant); err == nil {
		info.MasterKeyID = kf.MasterKeyID
	}
	if s.master == nil {
		info.Unreadable = "no master key given"
		return info
	}
	if err := s.spanOf(tenant, &info); err != nil {
		info.Unreadable = err.Error()
	}
	return info
}

// spanOf counts the tenant's records and finds their time span; each
// min/max is one step down a time index.
func (s *Store) spanOf(tenant string, info *TenantInfo) error {
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return err
	}
	defer conn.Close()
	var lo, hi int64
	found := false
	for _, table := range []string{"logs", "datapoints", "spans"} {
		st, _, err := conn.Prepare("SELECT count(*), min(time_unix_nano), max(time_unix_nano) FROM " + table)
		if err != nil {
			return err
		}
		if st.Step() && st.ColumnInt64(0) > 0 {
			info.Records += st.ColumnInt64(0)
			if a, b := st.ColumnInt64(1), st.ColumnInt64(2); !found {
				lo, hi, found = a, b, true
			} else {
				lo, hi = min(lo, a), max(hi, b)
			}
		}
		err = errors.Join(st.Err(), st.Close())
		if err != nil {
			return err
		}
	}
	if found {
		info.Oldest, info.Newest = time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC()
	}
	return nil
}
