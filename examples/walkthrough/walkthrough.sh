#!/usr/bin/env bash
# Two users, alice and bob, on one machine: each has a home of their own
# (two AC_HOMEs, embedded stores, no daemon). They exchange identities and
# node references as armoured text, the way they would by e-mail, and the
# blocks of their trees as CAR files; each merges the other's root.
#
# Usage: walkthrough.sh [WORKDIR]   (the ac-* commands must be on PATH)
set -euo pipefail

work=${1:-$(mktemp -d)}
mkdir -p "$work"
A=$work/alice
B=$work/bob
step() { printf '\n== %s\n' "$*"; }
id_of() { AC_HOME=$1 ac-identity list --json | sed -n 's/.*"identity": "\(.*\)".*/\1/p'; }

step "alice and bob each create a home and an identity"
AC_HOME=$A ac-init
AC_HOME=$B ac-init
AC_HOME=$A ac-identity new identities/alice
AC_HOME=$B ac-identity new identities/bob
AC_HOME=$A ac-verify identities/alice
alice_id=$(id_of "$A")
bob_id=$(id_of "$B")

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

step "alice mails bob her identity and her node reference, as armoured text"
AC_HOME=$A ac-message ref --armor identities/alice > "$work/alice.id"
AC_HOME=$A ac-message ref --armor node > "$work/alice.ref"
# bob saves her mail as it came: a greeting, the message, a signature
{ printf 'Hi Bob,

this is me, and my node:

'; cat "$work/alice.ref"; printf '
-- 
Alice
'; } > "$work/alice-mail.txt"
head -n 8 "$work/alice-mail.txt"
echo "alice.ref is $(wc -c < "$work/alice.ref") bytes of text; inside:"
AC_HOME=$B ac-message to-json < "$work/alice-mail.txt" | grep -E '"(policy|ipfs_hash|owner|name|seq)"'

step "bob adds alice as a friend, then her node"
AC_HOME=$B ac-friend add < "$work/alice.id"
AC_HOME=$B ac-friend list
AC_HOME=$B ac-node add < "$work/alice-mail.txt"
AC_HOME=$B ac-verify "nodes/$alice_id"

step "replaying the same reference changes nothing; a forged one is refused"
AC_HOME=$B ac-node add < "$work/alice.ref"
forged=$(AC_HOME=$B ac-message to-json < "$work/alice.ref" | sed 's/"seq": 1/"seq": 9/' | AC_HOME=$B ac-message from-json --base64)
if echo "$forged" | AC_HOME=$B ac-node add; then
	echo "a forged reference was accepted" >&2
	exit 1
fi

step "alice sends the blocks of her tree as a CAR file; bob takes them in and merges"
AC_HOME=$A ac-export node > "$work/alice.car"
echo "alice.car: $(wc -c < "$work/alice.car") bytes"
AC_HOME=$B ac-import < "$work/alice.car"
echo "-- what the merge would change:"
AC_HOME=$B ac-merge --dry-run root "nodes/$alice_id/root"
echo "-- merging:"
AC_HOME=$B ac-merge root "nodes/$alice_id/root"
AC_HOME=$B ac-cat root/projects/pictures/2024/notes.txt
AC_HOME=$B ac-get root/projects/pictures "$work/bob-got"
diff -r "$work/pictures" "$work/bob-got"
echo "bob's copy is identical"

step "both edit the notes meanwhile; bob also adds a file, alice deletes one"
printf 'notes, as bob remembers them\n' > "$work/bob-notes.txt"
AC_HOME=$B ac-add "$work/bob-notes.txt" root/projects/pictures/2024/notes.txt
printf 'from bob\n' > "$work/hello.txt"
AC_HOME=$B ac-add "$work/hello.txt" root/forum/hello.txt
sleep 1 # alice's edit is the later one
printf 'notes, as alice remembers them\n' > "$work/alice-notes.txt"
AC_HOME=$A ac-add "$work/alice-notes.txt" root/projects/pictures/2024/notes.txt
AC_HOME=$A ac-delete root/projects/pictures/a.jpg

step "alice sends only what changed: a node reference and a CAR since her last one"
last=$(AC_HOME=$B ac-message to-json < "$work/alice.ref" | sed -n 's/.*"ipfs_hash": "\(.*\)".*/\1/p')
AC_HOME=$A ac-node new node identities/alice
AC_HOME=$A ac-message ref --armor node > "$work/alice.ref2"
AC_HOME=$A ac-export --since "$last" node > "$work/alice2.car"
echo "alice2.car: $(wc -c < "$work/alice2.car") bytes (the first was $(wc -c < "$work/alice.car"))"
AC_HOME=$B ac-import < "$work/alice2.car"
AC_HOME=$B ac-node add < "$work/alice.ref2"

step "bob merges: a conflict copy keeps his notes, alice's deletion reaches him"
AC_HOME=$B ac-merge-all
AC_HOME=$B ac-ls root/projects/pictures/2024
AC_HOME=$B ac-ls root/projects/pictures
copy=$(AC_HOME=$B ac-ls root/projects/pictures/2024 | grep '^notes\.conflict-')
echo "-- the copy $copy holds:"
AC_HOME=$B ac-cat "root/projects/pictures/2024/$copy"

step "bob sends his side back; alice merges and holds the same root as bob"
AC_HOME=$B ac-node new node identities/bob
AC_HOME=$B ac-message ref --armor identities/bob > "$work/bob.id"
AC_HOME=$B ac-message ref --armor node > "$work/bob.ref"
AC_HOME=$B ac-export node > "$work/bob.car"
AC_HOME=$A ac-friend add < "$work/bob.id"
AC_HOME=$A ac-import < "$work/bob.car"
AC_HOME=$A ac-node add < "$work/bob.ref"
AC_HOME=$A ac-merge root "nodes/$bob_id/root"
root_a=$(AC_HOME=$A ac-info --json root | sed -n 's/.*"cid": "\(.*\)".*/\1/p' | head -1)
root_b=$(AC_HOME=$B ac-info --json root | sed -n 's/.*"cid": "\(.*\)".*/\1/p' | head -1)
echo "alice's root: $root_a"
echo "bob's root:   $root_b"
if [ "$root_a" != "$root_b" ]; then
	echo "the two roots differ after merging both ways" >&2
	exit 1
fi
echo "both hold the same root"

step "bob resolves the conflict; ac-diff and ac-restore use the history"
echo "-- what bob's root holds that alice's last node does not:"
AC_HOME=$B ac-diff "nodes/$alice_id/root" root || true # exits 1: they differ
AC_HOME=$B ac-delete "root/projects/pictures/2024/$copy"
AC_HOME=$B ac-log -n 3
AC_HOME=$B ac-restore --at 1 "root/projects/pictures/2024/$copy"
AC_HOME=$B ac-ls root/projects/pictures/2024

step "alice deletes the pictures; the history remembers"
AC_HOME=$A ac-delete root/projects/pictures
AC_HOME=$A ac-ls root/projects
AC_HOME=$A ac-log -n 3
echo
echo "walkthrough done in $work"
