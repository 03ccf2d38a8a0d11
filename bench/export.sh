#!/usr/bin/env bash
# Measures the exchange of the benchmark tree (100 directories of 100
# files, bench/gen's fixed seed) as CAR files: the full export, and the
# update after one changed file (ac-export --since), with their sizes, and
# ac-import of each into a second home. Medians of RUNS (default 3).
#
#   bash bench/export.sh [DIR] [RUNS]     (DIR defaults to /dev/shm/ac-export)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/dev/shm/ac-export}
runs=${2:-3}
rm -rf "$dir" && mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/bin/" ./tools/...
export PATH=$dir/bin:$PATH
go run ./bench/gen -tree "$dir/tree" >/dev/null

ms() { local s=$(date +%s%N); "$@"; echo $(( ($(date +%s%N) - s) / 1000000 )) >> "$dir/t"; }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for i in $(seq "$runs"); do
	A=$dir/a$i B=$dir/b$i
	AC_HOME=$A ac-init >/dev/null
	AC_HOME=$A ac-identity new identities/alice >/dev/null
	AC_HOME=$A ac-add "$dir/tree" root/projects/tree >/dev/null
	AC_HOME=$A ac-node new node identities/alice >/dev/null
	old=$(AC_HOME=$A ac-info --json node | sed -n 's/.*"cid": "\(.*\)".*/\1/p' | head -1)
	: > "$dir/t"; ms sh -c "AC_HOME=$A ac-export node > $dir/full.car"; cat "$dir/t" >> "$dir/full.t"
	printf 'changed\n' > "$dir/one.txt"
	AC_HOME=$A ac-add "$dir/one.txt" root/projects/tree/dir050/file050.bin >/dev/null
	AC_HOME=$A ac-node new node identities/alice >/dev/null
	: > "$dir/t"; ms sh -c "AC_HOME=$A ac-export --since $old node > $dir/upd.car"; cat "$dir/t" >> "$dir/upd.t"
	AC_HOME=$B ac-init >/dev/null
	: > "$dir/t"; ms sh -c "AC_HOME=$B ac-import < $dir/full.car > /dev/null"; cat "$dir/t" >> "$dir/fullimp.t"
	: > "$dir/t"; ms sh -c "AC_HOME=$B ac-import < $dir/upd.car > /dev/null"; cat "$dir/t" >> "$dir/updimp.t"
	rm -rf "$A" "$B"
done
echo "| exchange of 10,000 files (334 MB) | CAR bytes | ac-export | ac-import |"
echo "|---|---|---|---|"
echo "| full | $(wc -c < "$dir/full.car") | $(median "$dir/full.t") ms | $(median "$dir/fullimp.t") ms |"
echo "| --since, one file changed | $(wc -c < "$dir/upd.car") | $(median "$dir/upd.t") ms | $(median "$dir/updimp.t") ms |"
