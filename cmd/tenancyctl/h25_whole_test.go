package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// TestLineageRefusesACutResult: the lineage report reads through whole,
// which turns a result Query cut short into an error instead of a report
// that silently says less than the store holds.
func TestLineageRefusesACutResult(t *testing.T) {
	res, err := whole(&localstore.QueryResult{Rows: make([][]any, 3), Truncated: true}, nil)
	require.Nil(t, res)
	require.ErrorContains(t, err, "stopped after 3 rows")

	full := &localstore.QueryResult{Rows: make([][]any, 3)}
	res, err = whole(full, nil)
	require.NoError(t, err)
	require.Same(t, full, res)

	boom := errors.New("boom")
	_, err = whole(nil, boom)
	require.ErrorIs(t, err, boom)
}
