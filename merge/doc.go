// Package merge merges directory trees under the rules of their nodes:
// a friend's root into mine, so that every replica that has seen the same
// changes holds the same root CID, and nothing anyone wrote is lost but by
// a change that saw it.
//
// # What a name holds
//
// Every name in a shared directory holds a set of versions (schema.Entry
// and its Conflicts): those that no other version supersedes. A version
// supersedes another when its version vector is after the other's and,
// if the other is a version of an owned directory, it is the same owner's
// (schema.Supersedes). A local change (tree.Put, tree.Delete) makes a
// version that supersedes every version it may; a merge takes the union
// of both sides' versions and drops the superseded ones:
//
//   - Dominated: the other side's change saw this one, and wins.
//   - Concurrent edits of a file: both stay. The one shown under the name
//     is the live one with the latest mtime (then the larger CID); the
//     other is shown beside it as NAME.conflict-<date>-<id>.EXT.
//   - Deletions are tombstones, and a concurrent edit beats a delete: the
//     edited version stays live beside the tombstone.
//   - A shared directory is one directory however many versions of it
//     stay: their contents merge, name by name, recursively, and each
//     version links the merged contents. A deleted directory's tombstone
//     links its contents with every entry deleted, so a concurrent change
//     inside it survives and nothing else comes back.
//   - An owned directory changes only by its owner's signature. Every
//     owned directory the merge reads from the incoming tree must verify
//     under its owner's key, and the owner must be me or a friend
//     (Config.Resolver); an entry must say who owns what it links. Of the
//     versions seen, the highest seq wins, and a lower seq never comes
//     back, whatever its entry's version vector says; equal seqs with
//     different CIDs are a fork, reported, and the smaller CID wins. A
//     version without the owner's signature never supersedes it: the
//     directory stays beside it, and the Report says so. The owner
//     deletes it by linking an empty, later, signed version from the
//     tombstone, and that version counts among those seen: an entry of
//     the directory that stays live beside the tombstone (a friend's
//     concurrent change of its mode, say) shows the owner's last, empty
//     version.
//   - My own owned directory (Config.Signer holds its key) whose replicas
//     diverged (neither version descends from the other through prev)
//     merges like a shared one, and the result is signed with the next
//     seq after both.
//
// # Checked first
//
// Nothing of the incoming tree is used before it is checked. Merge first
// runs tree.Check under policy.Rules over the incoming tree beside mine:
// every block of it that my tree does not hold at the same place is read
// once, hash-checked and decoded strictly, its shape and limits checked
// (each directory's tree cut as the rule cuts it, no directory deeper
// than MaxDepth), every owned
// directory's signature verified against an owner who is mine or a
// friend, every entry's claims checked (who owns what it links, the size
// of a file whose root block is held, the kinds a filesystem holds). Any
// fault refuses the whole merge with one line naming the path and the
// block. So what the merge then takes whole (a name only the incoming
// side has) has been checked, whichever side's CID sorts first and in
// whatever order merges come, and a merge that succeeds leaves a tree
// that verifies. What my tree already holds is trusted: it was checked
// when it came in.
//
// # Laws
//
// For the merge of shared directories and of directories owned by
// others, Merge is commutative, associative and idempotent to the CID:
// the result is a function of the set of versions seen, laid out in the
// tree's canonical form (sorted entries, cut into nodes by content). The
// property tests check this on random histories over three replicas,
// drawn from every operation by which a command changes a filesystem
// (puts, deletes, renames, whole folders added again, restores), with
// conflicts, owned directories, directories of many nodes, and a hostile
// friend whose forgeries must be refused. Re-signing my own diverged
// directory is commutative and idempotent, but the seq it gets depends
// on the order of the merges.
//
// # Cost
//
// A merge reads only what differs: equal subtrees (and equal subtrees
// of a directory's tree) are skipped by CID without being read; a name only the
// incoming tree has is checked and then taken whole; file contents are
// never read, but for the root block of a file, where held, whose size
// is checked. Merging two 100,000-file trees that differ in ten files
// reads the blocks on the paths to those ten. Every block is checked
// once, and the merge of each pair of directories made once, so trees
// whose directories share children cost their distinct blocks, not
// their paths: 2^24 paths through 25 blocks merge in a millisecond.
package merge
