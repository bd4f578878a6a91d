package localstore

import "strconv"

// walCheckpointPages is the WAL's size, in pages (4 KiB), at which a
// writer's commit copies it into the database (SQLite's
// wal_autocheckpoint; SQLite's default is 1,000). A checkpoint copies the
// last version of each page the WAL holds, so the B-tree pages every
// ingest transaction rewrites (the tables' and indexes' rightmost leaves
// and interior pages, the audit and lineage tables') are copied once per
// checkpoint: fewer checkpoints copy, encrypt and sync them fewer times.
// The cost: an open tenant's WAL grows to about 32 MiB before it is
// copied (at most DefaultMaxOpenTenants of them are open; closing one
// checkpoints and deletes it), and recovery after a crash reads up to
// that much. BenchmarkWriteLogs/encryption=on, 1,000 against 8,000 pages
// in one interleaved run: docs/benchmarks.md (issue 18).
const walCheckpointPages = 8000

// walSizeLimit is the size, in bytes, a WAL file is cut back to when the
// WAL restarts (SQLite's journal_size_limit): a reader that held a
// checkpoint back (tenancyctl exporting, a backup) lets the WAL grow past
// walCheckpointPages, and without a limit the file would stay that large
// until the tenant's connection closes.
const walSizeLimit = walCheckpointPages * 4096

var walPragmas = "PRAGMA wal_autocheckpoint=" + strconv.Itoa(walCheckpointPages) + ";" +
	"PRAGMA journal_size_limit=" + strconv.Itoa(walSizeLimit) + ";"
