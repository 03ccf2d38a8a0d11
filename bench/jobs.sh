#!/usr/bin/env bash
# Measures how the -j of ac-get and ac-add changes their time on the
# benchmark tree (bench/gen's fixed seed), the settings taking turns:
#
#   - ac-get -j 1 against -j 2 on the disk, each time just after deleting
#     30,000 files, when ext4 is slow at creating new ones;
#   - ac-add -j 4, 6, 8 and 12 on tmpfs, beside cp -r.
#
#   bash bench/jobs.sh [DISKDIR] [TMPFSDIR] [ROUNDS]
# (defaults /var/tmp/ac-jobs, /dev/shm/ac-jobs, 3). Prints every sample and
# the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
disk=${1:-/var/tmp/ac-jobs}
tmp=${2:-/dev/shm/ac-jobs}
rounds=${3:-3}
rm -rf "$disk" "$tmp" && mkdir -p "$disk" "$tmp"
trap 'rm -rf "$disk" "$tmp"' EXIT
go build -o "$tmp/bin/" ./tools/...
export PATH=$tmp/bin:$PATH

ms() { local s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

go run ./bench/gen -tree "$disk/tree" >/dev/null
export AC_HOME=$disk/home
ac-init >/dev/null
ac-add "$disk/tree" root/tree >/dev/null
declare -A get
for r in $(seq "$rounds"); do
	for j in 1 2; do
		for k in 1 2 3; do cp -r "$disk/tree" "$disk/junk$k"; done
		sync; rm -rf "$disk"/junk*; sync
		t=$(ms ac-get -j "$j" root/tree "$disk/out")
		echo "ac-get -j $j, disk, after deleting 30,000 files: $t ms"
		get[$j]="${get[$j]:-} $t"
		rm -rf "$disk/out"
	done
done

go run ./bench/gen -tree "$tmp/tree" >/dev/null
declare -A add
for r in $(seq "$rounds"); do
	for j in 4 6 8 12 cp; do
		rm -rf "$tmp/h" "$tmp/cp"; sync
		if [ "$j" = cp ]; then
			t=$(ms cp -r "$tmp/tree" "$tmp/cp")
		else
			AC_HOME=$tmp/h ac-init >/dev/null
			t=$(AC_HOME=$tmp/h ms ac-add -j "$j" "$tmp/tree" root/tree)
		fi
		if [ "$j" = cp ]; then echo "cp -r, tmpfs: $t ms"; else echo "ac-add -j $j, tmpfs: $t ms"; fi
		add[$j]="${add[$j]:-} $t"
	done
done

echo
for j in 1 2; do echo "median ac-get -j $j (disk, ext4 slow at creating files): $(echo ${get[$j]} | median) ms"; done
for j in 4 6 8 12; do echo "median ac-add -j $j (tmpfs): $(echo ${add[$j]} | median) ms"; done
echo "median cp -r (tmpfs): $(echo ${add[cp]} | median) ms"
