package dashboards

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed files are what the Go code generates: a hand edit of the
// JSON, or a code change without `make dashboards`, fails here.
func TestCommittedFilesAreGenerated(t *testing.T) {
	files, err := Generate()
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for name, want := range files {
		got, err := os.ReadFile(name)
		require.NoError(t, err, "run make dashboards")
		assert.Equal(t, string(want), string(got), "%s differs from the generated file: run make dashboards", name)
	}
}
