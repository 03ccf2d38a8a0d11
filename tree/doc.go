// Package tree owns the tree database: immutable directory nodes,
// copy-on-write path operations over them, and the canonical cutting of
// each directory's entries into a tree of small nodes. It reads and writes blocks through an
// ipfsstore.Store and touches no file; which root is current, and how it
// changes safely beside other processes, is package head's.
//
// # Nodes and paths
//
// A tree is a directory_v2 node (see schema.Directory) whose entries link
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
// skipping equal subtrees of their trees unread; Changes reports the same as a
// listing shows it; WithEntries sets many entries at once. Check reads a
// tree from outside beside a trusted one and checks every block the
// trusted tree does not hold at the same place, once per distinct block,
// asking a Checker (package policy's Rules) for what structure cannot
// decide. The merge package builds on these.
//
// # A directory's tree
//
// A directory's entries, sorted by name, are cut into leaves by content
// (a prolly tree): a leaf ends after an entry with a chance that grows
// with the bytes already in the leaf, read from the sha2-256 of the
// entry's name, so leaves cluster near LeafTarget (1 KiB) and none
// passes four times it. The leaves' first names and links are cut into
// the nodes of level 1 the same way (InnerTarget, 1 KiB; an inner node
// holds two children at least), and so on until a level is one node.
// The directory block holds its tree's root: a directory whose entries
// make one leaf holds them, a larger one its root's children and level,
// so a small directory is one block and a path through a large one
// saves a block:
//
//	Directory level 2: [a.jpg →] [k.jpg →]
//	  [a.jpg] --> DirNode level 1: [a.jpg →] [c.jpg →] [f.jpg →]
//	                [a.jpg] --> DirNode level 0: a.jpg b.jpg
//	                [c.jpg] --> DirNode level 0: c.jpg d.jpg e.jpg
//	                ...
//	  [k.jpg] --> ...
//
// Where a node ends depends only on its items, so the nodes are a
// function of the set of entries: the same entries give the same blocks
// and CIDs whatever order they were added, replaced or deleted in, on
// every replica, and merges and comparisons skip equal subtrees by CID.
// A change rewrites the leaf it falls in and the nodes above it (a few
// KiB whatever the directory's size), and the nodes after it only until
// a new cut meets an old one, usually at once; a batch (setEntries)
// re-cuts each touched stretch of each level once, and writes only the
// nodes the result keeps. Names are ordered, so a directory streams in
// name order holding one path of nodes (eachEntry), and MakeDir builds
// from scratch in one pass.
//
// Every block read is checked: its bytes must hash to its CID and decode
// strictly (schema.Decode); a node must be at the level its parent's
// implies, and a directory's root an inner node of two children or more
// (acerr.Integrity otherwise). A hostile store can make operations fail,
// never crash or mislead them. A Check (check.go) verifies besides that
// a tree from outside is cut exactly as the rule cuts it, so that the
// same entries cannot come under another CID.
//
// The targets are part of the data format: replicas with other targets
// build other CIDs for the same entries. Change them only in tests.
package tree
