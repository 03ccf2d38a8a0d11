// Package dirbench is a study of directory layouts: it owns prototypes
// of the ways a directory's entries could be cut into blocks and encoded,
// and the measurements that compare them (docs/DIRNODES.md, printed by
// bench/dirnodes). Nothing outside the benchmark uses it; it is the
// starting point for replacing tree's shard trie.
//
// A Layout builds a canonical tree of nodes from a directory's entries,
// looks names up, diffs two versions reading only the nodes that differ,
// and walks its nodes:
//
//   - Trie is today's hash trie over sha2-256(name) (tree/shard.go, with
//     shard_v1 nodes), with its fan-out and leaf limit free;
//   - Prolly is a prolly tree over the entries sorted by name, cut into
//     nodes by a size-aware content-defined rule (Prolly.boundary), with
//     incremental Set and Remove that rewrite only the path and the nodes
//     until the new cuts meet the old ones.
//
// A Codec is a leaf's entry encoding: Today (schema's) or Compact
// (one-letter keys, the kind as an integer, By and the version vector's
// replica ids as indexes into tables of the leaf). Sample makes typical
// entries from a seed; Measure and Run measure the layouts; Fields breaks
// an entry's bytes down by field.
//
// Nodes go through Blocks, which every ipfsstore.Store satisfies; the
// benchmark uses the in-memory store, the canonicity test the embedded
// one.
package dirbench
