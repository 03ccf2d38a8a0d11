#!/usr/bin/env bash
# Measures ac-gc on a home holding 10 versions of the benchmark tree
# (bench/gen's 100 directories of 100 files, 334 MB; each version after
# the first rewrites the 1,000 files of 10 directories with new bytes and
# ac-adds the tree again). The home is made once; each of RUNS (default
# 3) copies of it is collected with ac-gc --keep 1, which keeps HEAD and
# the version before it. Prints the median time, the bytes freed and the
# store's size before and after.
#
#   bash bench/gc.sh [DIR] [RUNS]     (DIR defaults to /dev/shm/ac-gc)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/dev/shm/ac-gc}
runs=${2:-3}
rm -rf "$dir" && mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/bin/" ./tools/... ./bench/gen
export PATH=$dir/bin:$PATH
gen -tree "$dir/tree" >/dev/null
H=$dir/home
AC_HOME=$H ac-init >/dev/null
AC_HOME=$H ac-add "$dir/tree" root/projects/tree >/dev/null
for v in $(seq 2 10); do
	rm -rf "$dir/new"
	gen -tree "$dir/new" -dirs 10 -seed "$v" >/dev/null
	cp -r "$dir/new/." "$dir/tree/"
	AC_HOME=$H ac-add "$dir/tree" root/projects/tree >/dev/null
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in $(seq "$runs"); do
	rm -rf "$dir/run" && cp -a "$H" "$dir/run"
	sync
	s=$(date +%s%N)
	AC_HOME=$dir/run ac-gc --keep 1 --json > "$dir/out.json"
	echo $(( ($(date +%s%N) - s) / 1000000 )) >> "$dir/t"
	AC_HOME=$dir/run ac-verify --content root >/dev/null
done
field() { sed -n 's/.*"'"$1"'": \([0-9]*\).*/\1/p' "$dir/out.json"; }
echo "| ac-gc --keep 1 of 10 versions | time | freed | store before | after | packs rewritten, removed |"
echo "|---|---|---|---|---|---|"
echo "| $dir | $(median "$dir/t") ms | $(field freed) | $(field before) | $(field after) | $(field packs_rewritten), $(field packs_removed) |"
