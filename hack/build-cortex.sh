#!/usr/bin/env bash
# Builds Cortex v1.21.1 (a test peer: multi-tenant remote write) into $1.
# `go install cortex@v1.21.1` fails because Cortex's go.mod has replace
# lines, so a throwaway module in a temp dir requires Cortex and copies
# them. Both build tags are needed or Cortex panics on the first push.
# Nothing of Cortex's source lands in this repository.
set -euo pipefail
out="${1:?usage: build-cortex.sh OUTPUT}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
version=v1.21.1
go="${GO:-go}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$go" mod init cortexbuild >/dev/null 2>&1
# Download Cortex's own module to read its go.mod (replace lines included).
dir="$(GOFLAGS=-mod=mod "$go" mod download -json "github.com/cortexproject/cortex@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -f "$dir/go.mod" ] || { echo "build-cortex: no go.mod for cortex $version" >&2; exit 1; }
"$go" mod edit -require "github.com/cortexproject/cortex@$version"
"$go" mod edit -go "$(sed -n 's/^go //p' "$dir/go.mod")"
# Copy every replace directive (single-line and block form) of Cortex's go.mod.
awk '
  /^replace[[:space:]]*\(/ { inblock = 1; next }
  inblock && /^\)/ { inblock = 0; next }
  inblock { print; next }
  /^replace[[:space:]]/ { sub(/^replace[[:space:]]+/, ""); print }
' "$dir/go.mod" | sed 's://.*$::' | awk 'NF' | while read -r line; do
  old="$(echo "$line" | sed 's/[[:space:]]*=>.*//' | tr -s ' ' '@')"
  new="$(echo "$line" | sed 's/.*=>[[:space:]]*//' | tr -s ' ' '@')"
  "$go" mod edit -replace "$old=$new"
done
# And its excludes (a module version with a checksum mismatch).
sed -n 's/^exclude[[:space:]]\{1,\}\([^ ]*\)[[:space:]]\{1,\}\([^ ]*\).*/\1@\2/p' "$dir/go.mod" | while read -r ex; do
  "$go" mod edit -exclude "$ex"
done
GOFLAGS=-mod=mod "$go" get "github.com/cortexproject/cortex/cmd/cortex@$version"
mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -tags netgo,slicelabels -o "$out.tmp" github.com/cortexproject/cortex/cmd/cortex
mv -f "$out.tmp" "$out"
echo "built cortex $version into $out"
