#!/usr/bin/env bash
# Two users, alice and bob, on one machine: each has a home of their own
# (two AC_HOMEs, embedded stores, no daemon). They exchange identity and
# node messages as base64 text, the way they would by e-mail.
#
# Usage: walkthrough.sh [WORKDIR]   (the ac-* commands must be on PATH)
set -euo pipefail

work=${1:-$(mktemp -d)}
mkdir -p "$work"
A=$work/alice
B=$work/bob
step() { printf '\n== %s\n' "$*"; }

step "alice and bob each create a home and an identity"
AC_HOME=$A ac-init
AC_HOME=$B ac-init
AC_HOME=$A ac-identity new identities/alice
AC_HOME=$B ac-identity new identities/bob
AC_HOME=$A ac-verify identities/alice

step "alice puts some files in root/projects"
mkdir -p "$work/pictures/2024"
printf 'a picture\n' > "$work/pictures/a.jpg"
printf 'notes from the trip\n' > "$work/pictures/2024/notes.txt"
head -c 1000000 /dev/urandom > "$work/pictures/2024/big.bin"
AC_HOME=$A ac-add "$work/pictures" root/projects/pictures
AC_HOME=$A ac-ls -l root/projects/pictures

step "alice publishes her node"
AC_HOME=$A ac-node new node identities/alice
AC_HOME=$A ac-verify node

step "alice mails bob her identity and her node reference, as base64 text"
AC_HOME=$A ac-message ref identities/alice | base64 -w0 > "$work/alice.id"
AC_HOME=$A ac-message ref node | base64 -w0 > "$work/alice.ref"
echo "alice.ref is $(wc -c < "$work/alice.ref") bytes of text; inside:"
base64 -d < "$work/alice.ref" | AC_HOME=$B ac-message to-json | grep -E '"(policy|ipfs_hash|owner|name|seq)"'

step "bob adds alice as a friend, then her node"
AC_HOME=$B ac-friend add < "$work/alice.id"
AC_HOME=$B ac-friend list
AC_HOME=$B ac-node add < "$work/alice.ref"
alice_id=$(AC_HOME=$A ac-identity list --json | sed -n 's/.*"identity": "\(.*\)".*/\1/p')
AC_HOME=$B ac-verify "nodes/$alice_id"

step "replaying the same reference changes nothing; a forged one is refused"
AC_HOME=$B ac-node add < "$work/alice.ref"
forged=$(base64 -d < "$work/alice.ref" | AC_HOME=$B ac-message to-json | sed 's/"seq": 1/"seq": 9/' | AC_HOME=$B ac-message from-json | base64 -w0)
if echo "$forged" | AC_HOME=$B ac-node add; then
	echo "a forged reference was accepted" >&2
	exit 1
fi

step "alice reads her files back, byte for byte"
AC_HOME=$A ac-cat root/projects/pictures/a.jpg
AC_HOME=$A ac-get root/projects/pictures "$work/out"
diff -r "$work/pictures" "$work/out"
echo "export is identical"

step "alice deletes the pictures; the history remembers"
AC_HOME=$A ac-delete root/projects/pictures
AC_HOME=$A ac-ls root/projects
AC_HOME=$A ac-log -n 3
echo
echo "walkthrough done in $work"
