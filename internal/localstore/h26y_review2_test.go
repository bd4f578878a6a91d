package localstore

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Finding (low, in 9c42fb5's layout check; fixed in 0c8ffb7): checkLayout takes a
// database whose logs is a table for format 0 and then checks nothing of
// the layout (nor the resources: verifyChain returns before
// checkResources), and sumTables reads every table as SELECT * FROM it.
// Format 0 is never on row hash 2 (a Tenancy of format 3 converts it at
// open, before its first entry), yet a chain on row hash 2 over such a
// layout verifies. Here the view logs is replaced by a table holding the
// rows as row hash 2 takes them, and datapoints and spans by views giving
// the same: audit verify passes, though every read would give a
// resource's digest where its JSON was, and views whose answer depends on
// the time (unixepoch()) could give verify the hashed rows and other
// reads forged ones. Low: the next writer's open (the collector, or
// tenancyctl's audited reads) tries to convert the "format 0" tables and
// fails (UNIQUE constraint failed: log_rows.id), so the tenant stops
// working visibly. Fixed: format 0 only when logs, datapoints and spans
// are all tables, and a chain on row hash 2 over them is a RowsError.
// Both cases fail at 6b1b6bc and pass at 0c8ffb7.
func TestH26yLegacyLayoutIsNotTakenOnRowHash2(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables []string // made tables; the others views
		drop   bool     // format 2's tables dropped
	}{
		{"logs a table, the others views", []string{"logs"}, false},
		{"three tables, format 2's dropped", []string{"logs", "datapoints", "spans"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seeded(t) // row hash 2 from its start
			sql := ""
			for _, v := range []string{"logs", "datapoints", "spans"} {
				sql += "DROP VIEW " + v + ";"
			}
			for _, v := range []string{"logs", "datapoints", "spans"} {
				kind := "VIEW"
				if slices.Contains(tc.tables, v) {
					kind = "TABLE"
				}
				sql += "CREATE " + kind + " " + v + " AS " + hashedRows(v, rowHash2) + ";"
			}
			if tc.drop {
				sql += "DROP TABLE log_rows; DROP TABLE datapoint_rows; DROP TABLE span_rows; DROP TABLE resources;"
			}
			tamperDB(t, dir, master, "acme", sql)
			_, err := h26hVerify(t, dir, master)
			var re *RowsError
			require.ErrorAs(t, err, &re, "a chain on row hash 2 over a layout that is neither format 0 nor the store's")
		})
	}
}
