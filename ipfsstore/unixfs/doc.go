// Package unixfs imports and reads UnixFS v1 files, the file format of
// IPFS, exactly as kubo writes them with `ipfs add --cid-version=1`.
//
// It is written from the specifications (dag-pb and UnixFS v1) and depends
// only on the standard library and go-cid: the two protobuf messages
// involved are encoded and decoded by hand (pb.go). Every ArchiveCache
// command links this package, so it keeps to what a file needs and costs
// nothing at start-up.
//
// # The shape of a file
//
// A file is cut into chunks of ChunkSize bytes (the last one shorter).
// Each chunk is a raw block (CIDv1, codec raw, sha2-256). A file of at most
// one chunk, the empty file included, is that single raw block. Larger
// files put the leaves under dag-pb nodes (CIDv1, codec dag-pb, sha2-256)
// of at most MaxLinks links each, in the balanced layout of kubo's default
// importer:
//
//	                        root (height 2)
//	            ┌─────────────┴───────────────┐
//	     node (height 1, full)         node (height 1)
//	   ┌─────────┼─────────┐                  │
//	leaf 0 … leaf 173 (174 leaves)        leaf 174
//
// Leaves are grouped in order under nodes of MaxLinks; those nodes are
// grouped the same way, and so on, until one node is left. Every subtree
// is full except the ones on the path to the last leaf, and every leaf is
// at the same depth: a partial subtree is still a node of its height, even
// over a single child, as in the right branch above.
//
// A node is a PBNode whose Data field holds a UnixFS Data message of Type
// File, with filesize (the file bytes under the node) and one blocksize per
// link (the file bytes under that child), and no data of its own. Each link
// has the child's CID, an empty Name and the child's Tsize: for a leaf its
// length, for a node the length of its encoding plus the Tsizes of its
// links. Any difference in these bytes would change every CID above it.
//
// # Reading
//
// A File reads two ways. Read (with Seek and WriteTo) keeps a position and
// the path of nodes down to it, and fetches the next leaves ahead of a
// sequential reader. ReadAt keeps nothing: each call walks down from the
// root by the blocksizes, fetching only the blocks under its range with
// the context it is given, so many goroutines can read one File at once,
// each cancelling its own reads (a FUSE server's reads).
//
// FileNode encodes a file node over given children, as Import does, for
// callers that lay a file out themselves.
//
// Open reads any UnixFS file, not only the ones Import makes: leaves may be
// raw blocks or dag-pb nodes with data, nodes may hold data before their
// children, and any layout and chunk size is accepted. Blocks are decoded
// strictly and nothing in them is trusted: each is at most
// schema.MaxForeignBlockSize bytes, the number of links and blocksizes
// must agree, a node's filesize must equal its data plus its blocksizes,
// each child must hold exactly the bytes its parent's blocksize claims,
// and the reader never goes more than MaxDepth blocks down, so a cycle
// (possible only with a GetFunc that does not check hashes) ends in an
// error. A block under an identity CID (`ipfs add --inline`) is read from
// the CID itself, never fetched. Malformed blocks give errors of kind
// acerr.Invalid, sizes that do not add up kind acerr.Integrity; neither
// ever panics.
package unixfs

const (
	// ChunkSize is the size of the chunks Import cuts a file into, kubo's
	// default chunker (size-262144).
	ChunkSize = 256 << 10
	// MaxLinks is the most links Import puts in a node, kubo's default.
	MaxLinks = 174
	// MaxDepth is the most blocks the reader goes through from the root to
	// a leaf. A balanced file of 2^63 bytes is 8 blocks deep.
	MaxDepth = 32
)
