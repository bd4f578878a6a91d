#!/usr/bin/env bash
# Compares SQLite's two Go engines on the local store's inserts
# (hack/sqliteengines/engines_test.go): ncruces/go-sqlite3 at the version
# go.mod names, mattn/go-sqlite3 (cgo: needs a C compiler) at v1.14.53.
# mattn is not a dependency of the project, so the benchmark runs in a
# throwaway module in a temp dir. Usage: hack/sqlite-engines.sh [ROUNDS]
set -euo pipefail
rounds="${1:-3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
go="${GO:-go}"
ncruces="$(sed -n 's/^[[:space:]]*github.com\/ncruces\/go-sqlite3 \(v[^ ]*\)$/\1/p' "$repo/go.mod")"
wasm="$(sed -n 's/^[[:space:]]*github.com\/ncruces\/go-sqlite3-wasm\/v6 \(v[^ ]*\).*$/\1/p' "$repo/go.mod")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$go" mod init sqliteengines >/dev/null 2>&1
sed '1{/^\/\/go:build ignore$/d}' "$repo/hack/sqliteengines/engines_test.go" > engines_test.go
GOFLAGS=-mod=mod "$go" get "github.com/ncruces/go-sqlite3@$ncruces" "github.com/ncruces/go-sqlite3-wasm/v6@$wasm" github.com/mattn/go-sqlite3@v1.14.53 >/dev/null 2>&1
GOFLAGS=-mod=mod CGO_ENABLED=1 "$go" test -c -o engines.test .
for _ in $(seq "$rounds"); do
  ./engines.test -test.run '^$' -test.bench '^BenchmarkNcruces$' -test.benchtime 40x | grep '^Benchmark'
  ./engines.test -test.run '^$' -test.bench '^BenchmarkMattn$' -test.benchtime 40x | grep '^Benchmark'
done
