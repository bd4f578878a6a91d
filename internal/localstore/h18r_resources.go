package localstore

import "math"

// Each distinct resource is stored once (schema): ingest looks a run's
// resource up by the SHA-256 of its JSON, first in the tenant's cache of
// the resources it has seen, then in the resources table, and inserts
// it when it is new. The rows carry its id; their hashes cover its
// digest (row hash 2, blockInserter.startRun), which audit verify checks
// against its JSON once per resource.

// maxCachedResources bounds a tenant's resource cache; past it the cache
// starts again (each entry is 40 bytes and a map slot).
const maxCachedResources = 4096

// resourceID is the id of the resource whose JSON is json, inserting it if
// the database has none, and its digest. t.mu held, in a transaction; an
// id cached by a transaction that did not commit is dropped
// (dropResourceCache).
func (t *tenantDB) resourceID(json string) (int64, [32]byte, error) {
	d := resourceDigest(json)
	if id, ok := t.resIDs[d]; ok {
		return id, d, nil
	}
	st, err := t.stmt(`SELECT id FROM resources WHERE digest = ?`)
	if err != nil {
		return 0, d, err
	}
	_ = st.BindBlob(1, d[:])
	var id int64
	if st.Step() {
		id = st.ColumnInt64(0)
	}
	if err := st.Reset(); err != nil {
		return 0, d, err
	}
	if id == 0 {
		ins, err := t.stmt(`INSERT INTO resources(digest, json) VALUES (?, ?)`)
		if err != nil {
			return 0, d, err
		}
		_ = ins.BindBlob(1, d[:])
		_ = ins.BindText(2, json)
		err = ins.Exec()
		// Not kept bound: a resource of a few MiB would stay in SQLite's
		// heap for as long as the connection.
		_ = ins.ClearBindings()
		if err != nil {
			return 0, d, err
		}
		id = t.conn.LastInsertRowID()
	}
	if t.resIDs == nil || len(t.resIDs) >= maxCachedResources {
		t.resIDs = map[[32]byte]int64{}
	}
	t.resIDs[d] = id
	return id, d, nil
}

// noAge is the age of a resource no row was written with yet.
const noAge = math.MinInt64

// rowAge is what retention ages a row by: the earlier of its time and its
// ingestion (sqlExpire).
func rowAge(ts, ingested int64) int64 { return min(ts, ingested) }

// seeResource notes that the transaction wrote rows with resource id, the
// latest of age.
func (t *tenantDB) seeResource(id, age int64) {
	if id == 0 || age == noAge {
		return
	}
	if t.resAges == nil {
		t.resAges = map[int64]int64{}
	}
	if a, ok := t.resAges[id]; !ok || age > a {
		t.resAges[id] = age
	}
}

// writeResourceAges records in each resource the transaction wrote rows
// with the latest age of its rows in view's table (its *_until).
func (t *tenantDB) writeResourceAges(view string) error {
	defer clear(t.resAges)
	if len(t.resAges) == 0 {
		return nil
	}
	col := view + "_until"
	st, err := t.stmt(`UPDATE resources SET ` + col + ` = max(coalesce(` + col + `, ?2), ?2) WHERE id = ?1`)
	if err != nil {
		return err
	}
	for id, age := range t.resAges {
		_ = st.BindInt64(1, id)
		_ = st.BindInt64(2, age)
		if err := st.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// dropResourceCache forgets the resources cached: after a transaction
// that did not commit (its new resources are not there), a retention run
// (which deletes resources), or another connection's commit.
func (t *tenantDB) dropResourceCache() {
	t.resIDs = nil
	clear(t.resAges)
}

// checkDataVersion drops the resource cache when another connection (a
// retention run or rotation by tenancyctl) committed since this one last
// looked: it may have deleted a resource cached here. t.mu held, in a
// transaction.
func (t *tenantDB) checkDataVersion() error {
	st, err := t.stmt(`PRAGMA data_version`)
	if err != nil {
		return err
	}
	st.Step()
	v := st.ColumnInt64(0)
	if err := st.Reset(); err != nil {
		return err
	}
	if v != t.dataVersion {
		t.dropResourceCache()
		t.dataVersion = v
	}
	return nil
}

// Retention's statements on the resources: a signal's *_until is cleared
// once its rows older than the cutoff are gone (every row with that
// resource was, if the latest was), and a resource with no rows left of
// any signal is deleted.
func sqlResourcesGone(view string) string {
	return `UPDATE resources SET ` + view + `_until = NULL WHERE ` + view + `_until < ?1`
}

const sqlDeleteResources = `DELETE FROM resources WHERE logs_until IS NULL AND datapoints_until IS NULL AND spans_until IS NULL`
