#!/usr/bin/env bash
# Adds one tree through a running kubo daemon, ac-add (a home made with
# --api) and `ipfs add -r --cid-version=1` taking turns, in one run, and
# counts the blocks each leaves on the daemon against those its result
# references. Prints a Markdown table of medians and the ratio.
#   bash bench/kuboadd.sh [RUNS] [DIRS] [FILES] [DIR]
# RUNS defaults to 5, the tree to 20 directories of 100 files of 1–64 KiB
# (2,000 files, bench/gen's fixed seed), DIR to /dev/shm/ac-kuboadd.
# Between runs `ipfs repo gc` empties the daemon of what the last run
# added (nothing is pinned, and the home's keep-alive entries in the
# files API are removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
dirs=${2:-20}
files=${3:-100}
dir=${4:-/dev/shm/ac-kuboadd}
rm -rf "$dir"
mkdir -p "$dir/bin"
daemon=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

go build -o "$dir/bin/" ./tools/...
go build -o "$dir/bin/ipfs" github.com/ipfs/kubo/cmd/ipfs
go run ./bench/gen -tree "$dir/src" -dirs "$dirs" -files "$files" >/dev/null
export IPFS_PATH=$dir/repo PATH=$dir/bin:$PATH
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=/ip4/127.0.0.1/tcp/$(port)
ipfs init --profile=test --empty-repo >/dev/null
ipfs config --json Addresses.API "\"$api\""
ipfs config --json Addresses.Gateway "\"/ip4/127.0.0.1/tcp/$(port)\""
ipfs config --json Addresses.Swarm "[\"/ip4/127.0.0.1/tcp/$(port)\"]"
ipfs daemon >"$dir/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do ipfs --api "$api" version >/dev/null 2>&1 && break; sleep 0.1; done

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
blocks() { ipfs --api "$api" refs local | wc -l; }
empty() {
	ipfs --api "$api" files rm -r --force /archivecache >/dev/null 2>&1 || true
	ipfs --api "$api" repo gc >/dev/null
}
declare -a tac tipfs
for i in $(seq "$runs"); do
	for who in ac ipfs; do
		[ $((i % 2)) = 0 ] && who=$([ "$who" = ac ] && echo ipfs || echo ac)
		empty
		base=$(blocks)
		sync
		if [ "$who" = ac ]; then
			home=$dir/home
			rm -rf "$home"
			AC_HOME=$home ac-init --api "$api" >/dev/null
			t=$(AC_HOME=$home ms ac-add "$dir/src" root/projects/src)
			root=$(AC_HOME=$home ac-ls --json root/projects | python3 -c 'import json,sys; print([e["cid"] for e in json.load(sys.stdin) if e["name"]=="src"][0])')
			tac+=("$t")
		else
			t=$(ms ipfs --api "$api" add -r -Q --cid-version=1 --pin=false "$dir/src")
			root=$(ipfs --api "$api" add -r -Q --cid-version=1 --pin=false --only-hash "$dir/src")
			tipfs+=("$t")
		fi
		held=$(($(blocks) - base))
		refd=$(($(ipfs --api "$api" refs -r -u "$root" | wc -l) + 1))
		echo "run $i: $who $t ms, $held blocks added, $refd referenced by its result" >&2
		eval "held_$who=$held refd_$who=$refd"
	done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mac=$(median "${tac[@]}")
mipfs=$(median "${tipfs[@]}")
echo "| $((dirs * files)) files through the daemon, medians of $runs | time | blocks added | blocks its result references |"
echo "|---|---|---|---|"
echo "| \`ac-add\` (home with --api) | $mac ms | $held_ac | $refd_ac |"
echo "| \`ipfs add -r --cid-version=1\` | $mipfs ms | $held_ipfs | $refd_ipfs |"
awk -v a="$mac" -v b="$mipfs" 'BEGIN {printf "| ipfs ÷ ac | %.2f× | | |\n", b / a}'
