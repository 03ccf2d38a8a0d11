#!/usr/bin/env bash
# Runs the side-by-side benchmark (ac, kubo, cp) and prints the table that
# docs/BENCHMARKS.md quotes. Arguments go to bench/compare, e.g.
#   bash bench/run.sh -runs 3 -big-size 512
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/compare "$@"
