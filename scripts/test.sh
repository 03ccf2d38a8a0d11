#!/usr/bin/env bash
# Installs what the tests need and runs the whole test suite.
#
# Needs: Go (the version in go.mod) on a Debian machine, run as root. The
# pinned kubo (go.mod's tool directive) is built by the Go toolchain on
# first use, so the storage contract runs against a real daemon; strace
# (the tests that kill and fail a command at each system call of its
# commit) comes from Debian's packages; nothing is installed by hand.
# AC_TEST_DISALLOW_SKIP=1 turns a skipped test into a failure, and so the
# full-disk test, which mounts a small tmpfs, needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v strace >/dev/null || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing from Debian's packages: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

echo "== building the pinned kubo (first time: a few minutes)"
go tool -n ipfs

echo "== go vet"
go vet ./...

echo "== go test (race detector, short mode)"
# A race-enabled program sleeps a second at exit unless told not to, and
# the command tests start hundreds of them.
GORACE=atexit_sleep_ms=0 go test -race -short -count=1 -timeout 30m ./...

echo "== the merge laws, on 3,000 random histories per case"
go test -count=1 -run TestMergeLaws ./merge -rapid.checks=3000

echo "== go test (full)"
AC_TEST_DISALLOW_SKIP=1 go test -count=1 -timeout 30m ./...
