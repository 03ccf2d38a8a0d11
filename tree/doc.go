// Package tree owns the tree database: immutable directory nodes,
// copy-on-write path operations over them, and the canonical sharding of
// large directories. It reads and writes blocks through an
// ipfsstore.Store and touches no file; which root is current, and how it
// changes safely beside other processes, is package head's.
//
// # Nodes and paths
//
// A tree is a directory_v1 node (see schema.Directory) whose entries link
// files, identities, published nodes and further directories by CID.
// Nothing is changed in place: Put and Delete write new blocks for the
// directories on the path they touch and return a new root CID; every
// other subtree is shared with the old root, which stays readable.
//
// Paths are slash-separated and relative, "root/projects/a.jpg"; "" is the
// root itself. They must be clean: each component a valid entry name
// (schema.ValidName), so "/a", "a/", "a//b", "./a" and "../a" are refused
// with acerr.Invalid rather than cleaned, and every entry has exactly one
// path. Callers that take paths from users clean them first. Under an
// entry of kind node_v1 the component "root" stands for the filesystem the
// node publishes, so "nodes/ID/root/forum" resolves for reading; writing
// there is refused, since only the node's owner can publish a new one.
//
// Every entry that Put or Delete writes carries a version vector: the
// join of the vectors of every version the name had (see below), with the
// configured replica's counter incremented. Parent directory entries on
// the path are bumped the same way, so a merge can tell which side
// changed what. Delete leaves a tombstone, never removes a name:
// deletions must reach other replicas. Deleting a directory makes a
// tombstone that links its contents with every entry deleted, so that a
// merge keeps what another replica changed inside it meanwhile and
// nothing else (delete.go). An owned directory on the path is re-signed
// by the configured Signer (seq + 1, prev = the old version); deleting
// one takes its owner's key.
//
// # Versions and conflict copies
//
// A name holds the versions of it that no other version supersedes
// (schema.Supersedes): one, unless a merge met concurrent changes. The
// entry is the version shown; the others are its Conflicts. List and Walk
// show each live one that links other content under its ConflictName,
// NAME.conflict-<date>-<id>.EXT, and Lookup finds it there. A change to
// the name supersedes every version it may; each conflict copy it
// supersedes, but the one being deleted, becomes an entry of its own
// under its conflict name, so no content is lost. Writing into a conflict
// copy is refused: delete it, or copy it to a name of its own.
//
// A conflict copy whose name is taken (by a stored entry of that name,
// which a friend can make, or by another copy of the entry whose id
// begins alike) is shown under the first free name with a counter after
// the id, NAME.conflict-<date>-<id>-2.EXT, so that a listing never holds
// one name twice.
//
// # Batches and whole trees
//
// Apply applies many puts, deletes and mkdirs (Op) as one change,
// reading and writing each directory on their paths once and signing
// each touched owned directory once; Put, Delete and Mkdir are batches of
// one. So a thousand puts into one owned directory cost one signature
// and one new block per directory on the path, where a thousand Puts
// cost a thousand of each. The Tree holds no key: Config.Signer is
// called once per owned directory a batch changes, and what it holds
// between calls, and for how long, is its own affair (package home's
// Signer keeps each key it unlocks until it is closed). PutTree turns a Source (a local folder being added, an old
// version being restored) into the ops that the file-by-file changes
// would be: a changed file is a new version superseding what the name
// held, an unchanged one keeps its entry, what the source lacks is
// deleted. So adding a folder again, or restoring one, is exactly the
// changes a merge must carry to friends, never a fresh directory whose
// entries start new histories.
//
// # Comparing and checking
//
// Diff reports the names whose entries differ between two directories,
// skipping equal shard subtrees unread; Changes reports the same as a
// listing shows it; WithEntries sets many entries at once. Check reads a
// tree from outside beside a trusted one and checks every block the
// trusted tree does not hold at the same place, once per distinct block,
// asking a Checker (package policy's Rules) for what structure cannot
// decide. The merge package builds on these.
//
// # Sharding
//
// A directory keeps its entries inline while their summed encoded size
// (schema.EntrySize, tombstones included) is at most InlineLimit (64 KiB).
// Beyond that it links a shard trie: a hash array mapped trie over
// sha2-256(name), in which a node at depth d holds every entry whose hash
// begins with the d bytes on the path to it. A node is a leaf, its entries
// sorted by name, when they sum to at most LeafLimit (256 KiB) or d is 31;
// otherwise it is an inner node with one child per value of hash byte d
// that occurs, each child link carrying the summed entry size below it:
//
//	Directory
//	  shard --> Shard depth 0, inner
//	              [0x00] bytes 301777 --> Shard depth 1, inner (over LeafLimit)
//	                                        [0x00] bytes 1302 --> Shard depth 2, leaf
//	                                        [0x17] bytes  911 --> Shard depth 2, leaf
//	                                        ...
//	              [0x01] bytes  98001 --> Shard depth 1, leaf: entries sorted by
//	                                      name, each with sha2-256(name)[0] = 0x01
//	              ...
//	              [0xff] bytes 120440 --> Shard depth 1, leaf
//
// The shape is a function of the set of entries alone: whether a node is
// a leaf depends only on the entries under it, and which entries are under
// it depends only on their names' hashes. So the same entries give the
// same blocks and the same CIDs whatever order they were added, replaced
// or deleted in, on every replica; merges and comparisons can skip equal
// subtrees by CID. Sizes are exact encoded sizes, so no block exceeds
// 1 MiB (the limits are capped below MaxLimit for that).
//
// Put and Delete keep that form incrementally, reading and rewriting only
// the trie nodes on the hash path of the name they change: a leaf that
// grows past LeafLimit splits; the topmost node on the path whose total
// falls to LeafLimit or below collapses into one leaf (the child sizes in
// the parent make that decision without reading the children); a
// directory whose total falls to InlineLimit or below goes back inline.
// MakeDir builds a directory from many entries at once in O(n log n):
// sort by hash, cut into runs, encode each leaf once.
//
// Every block read is checked: its bytes must hash to its CID and decode
// strictly (schema.Decode); a shard must sit at the depth it is found at,
// hold only names of its hash prefix, and hold the size its parent says
// (acerr.Integrity otherwise). A hostile store can make operations fail,
// never crash or mislead them.
//
// The limits are part of the data format: replicas with different limits
// build different CIDs for the same entries. Change them only in tests.
package tree
