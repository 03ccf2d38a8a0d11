#!/usr/bin/env bash
# Builds the ac-* commands into a temporary directory and runs the
# walkthrough with them. Needs only Go.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/bin/" ./tools/...
PATH=$tmp/bin:$PATH bash examples/walkthrough/walkthrough.sh "$tmp/work"
