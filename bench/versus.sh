#!/usr/bin/env bash
# Times the commands of two versions of ArchiveCache in turns, on the same
# data in one run: ac-add of the benchmark tree into a new home, ac-get of
# it, ac-add of it again unchanged, and ac-verify root, on tmpfs.
#   bash bench/versus.sh REV [RUNS] [DIR]
# REV is the older commit (the other is the work tree); RUNS defaults to
# 5, DIR to /dev/shm/ac-versus. Prints one line per command and version
# with the median in ms, the first run left out (it warms the caches).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bash bench/versus.sh REV [RUNS] [DIR]}
runs=${2:-5}
dir=${3:-/dev/shm/ac-versus}
rm -rf "$dir"
mkdir -p "$dir/old" "$dir/new"
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
git worktree add -q --detach "$wt" "$rev"
(cd "$wt" && go build -o "$dir/old/" ./tools/...)
go build -o "$dir/new/" ./tools/...
go run ./bench/gen -tree "$dir/src" >/dev/null

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
declare -A t
for i in $(seq 0 "$runs"); do
	for v in old new; do
		h=$dir/home-$v
		rm -rf "$h" "$dir/out-$v"
		AC_HOME=$h "$dir/$v/ac-init" >/dev/null
		a=$(AC_HOME=$h ms "$dir/$v/ac-add" "$dir/src" root/projects/src)
		g=$(AC_HOME=$h ms "$dir/$v/ac-get" root/projects/src "$dir/out-$v")
		r=$(AC_HOME=$h ms "$dir/$v/ac-add" "$dir/src" root/projects/src)
		c=$(AC_HOME=$h ms "$dir/$v/ac-verify" root)
		[ "$i" = 0 ] && continue
		t[$v add]+="$a "
		t[$v get]+="$g "
		t[$v re-add]+="$r "
		t[$v verify]+="$c "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for cmd in add get re-add verify; do
	for v in old new; do
		echo "$cmd $v $(echo "${t[$v $cmd]}" | median) ms  (${t[$v $cmd]% })"
	done
done
