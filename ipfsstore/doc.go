// Package ipfsstore owns blocks and files by CID.
//
// A Store keeps IPLD blocks and imports and reads UnixFS files. There are
// four implementations behind the one interface; Open picks between the
// first two with one switch on Config.API:
//
//   - Embedded (the default): blocks in append-only pack files with an
//     index, inside the user's home, no daemon. See below and pack.go.
//   - Kubo: a running kubo daemon reached through its RPC API (--api /
//     AC_API), so bitswap moves blocks between peers.
//   - Memory: everything in memory, for tests of the packages above and
//     for short-lived work (NewMemory).
//   - Overlay: reads from another store, keeps what is put in memory and
//     drops it at Close: a dry run writes its blocks there (NewOverlay).
//
// Every block that enters a Store is hash-checked against its CID and is at
// most schema.MaxBlockSize bytes. Get checks what it returns: the kubo and memory
// stores by its hash, the embedded store by a CRC-32C kept since the
// block's hash was checked on its way in, and by its hash as well when
// opened with Config.Rehash (pack.go says why). Blocks
// are keyed by multihash, as in kubo: the same bytes under two codecs or
// CID versions are one block. File import produces the same CIDs as
// `ipfs add --cid-version=1` (256 KiB chunks, raw leaves, balanced layout
// with 174 links per node), so `ipfs cat CID` works on what ArchiveCache
// stores. The contract every Store meets is written on the Store interface
// and checked by the storetest package; the kubotest package runs real kubo
// daemons for the tests that need one.
//
// # Reading files
//
// OpenFile gives a File, read two ways. Read, WriteTo and Seek serve one
// sequential reader (ac-cat, ac-get): they keep a position, read ahead,
// and over kubo stream the file with one `cat`. ReadAt serves many
// goroutines at once, each with its own context (a FUSE mount's reads):
// it has io.ReaderAt's semantics, keeps no state between calls, reads
// only the blocks under its range by walking down from the root by the
// blocksizes, and returns the context's error as soon as its context is
// cancelled, a fetch from kubo's peers included. Every store's ReadAt is
// the unixfs reader over the store's Get, so a missing block fails as Get
// fails; over kubo, after FetchTimeout.
//
// # What is owned here, and why
//
// Two pieces that could come from the IPFS libraries are written here
// instead, each small and each in a package of its own:
//
//   - unixfs: the UnixFS v1 file importer and reader. boxo's importer and
//     DagReader bring merkledag, a protobuf library, go-ipld-prime and
//     go-log/zap with them, and their package initialisation alone cost
//     every ac-* command several milliseconds before main ran. A file is
//     two hand-encoded protobuf messages in a fixed layout (see the
//     package's documentation), so the package is short, depends only on
//     the standard library and go-cid, decodes strictly and with bounds,
//     and is checked against a real kubo daemon's `ipfs add` at every size
//     where the shape of the DAG changes.
//   - kuborpc: the client of kubo's RPC API, for the handful of commands
//     the kubo store sends (block get, stat and put, add, cat, files cp,
//     ls and rm). kubo's own client package links libp2p, prometheus, a
//     DNS library and a YAML parser into every binary, whether or not it
//     ever talks to a daemon; kuborpc is net/http and mime/multipart.
//
// Both are linked into every command, since Open chooses the backend at
// run time, so what they import is paid at every start. Keep it that way:
// nothing under this package may import boxo or kubo outside tests.
//
// # The embedded store
//
// Importing many small files or one large file is the embedded store's
// main job, and it is built for it:
//
//   - No file per block. Blocks are appended to a pack file, and their
//     locations to an index file beside it. Import costs one sequential
//     write stream and, at Sync, two fdatasyncs — not a file creation, a
//     directory entry and a sync per block.
//   - Hashing and writing overlap. Put copies a block into a 2 MiB buffer;
//     full buffers go to a write goroutine, which pwrites them and starts
//     the kernel's writeback as it goes (sync_file_range), so the disk is
//     busy while the importer hashes, and the final fdatasync finds little
//     left to write.
//   - One hash per block. The blocks the importer builds were hashed to
//     make their CIDs and are not hashed again on the way in; leaves are
//     hashed on several cores while the store copies the ones before them.
//     A file of at most one chunk is its own raw leaf, hashed and stored
//     with no goroutine and no allocation but its CID. Blocks from outside
//     (Put) are always checked.
//   - No garbage per chunk. The importer's chunk buffers circulate and are
//     kept between imports, so a large import keeps a small heap (under 50
//     MB of RSS for a 512 MiB file) whatever the GC does.
//   - Opening is free: its cost grows neither with the blocks held nor
//     with the packs. A sealed pack has a sorted table beside it, mapped
//     and searched in place (table.go), and the writer that seals a pack
//     merges the tables of small packs into multi-pack tables once there
//     are more than eight (multitable.go), so Open reads a directory
//     listing and maps at most eight tables, and a lookup reads a few
//     pages of each; only packs without a table (being written, left by
//     a dead writer until the next writer cuts them back and seals them,
//     or older) have their index files read into a map.
//     Open creates nothing (it takes a shared flock of the packs
//     directory, which only Collect takes exclusively); the first Put
//     creates this process's pack.
//   - A bounded heap, whatever the import. The map holds the blocks of
//     the pack being written alone: every 65,536 blocks the writer seals
//     its pack mid-run, as Close would, and its blocks are found through
//     the pack's mapped table from then on, behind a Bloom filter so that
//     the lookup of a new block skips it. The index records waiting for
//     Sync are one pack's too.
//
// Every process writes to a pack of its own, so processes sharing a home
// never interleave their writes; a Get or Has that misses maps the tables
// other processes have sealed since, and reads the index files of the
// packs still without one, from where it last stopped.
// Sync makes pack data durable before the index records that point at it,
// and readers take a torn record at the end of a pack still being written
// for its writer's, so a process killed at any moment leaves a store that
// opens and whose every indexed block reads back with the right hash.
//
// Failures leave nothing behind (seal.go). A writer locks its pack and
// seals it at Close. A write that fails (a full disk, EIO) fails every
// later write and Sync, and Close then cuts the pack and its index back to
// what the last successful Sync made durable, or removes them. A pack whose
// writer died unsealed is cut back the same way by the next process that
// writes, which tries the lock of each unsealed pack once, at its first
// Put. The blocks a failed or dead writer had synced stay, and are reused.
//
// Damage is reported as damage and can be repaired (damage.go). A block
// whose data fails its check, a damaged index record, a pack cut short:
// every read that meets one fails with acerr.Integrity, naming the file
// and the block, and the rest of the store reads as before. Put of a
// block whose stored copy fails its check writes it again, and the index
// names the new copy, so importing a CAR that holds a good copy, or adding
// the original file again, repairs the store; Repair does it from another
// Store.
//
// Only Collect (gc.go) rewrites packs or deletes what a synced record
// locates: under an exclusive lock of the store (every open store holds
// it shared), it copies the live blocks of packs that hold dead ones into
// new packs, seals them, and only then removes the old ones, so a kill at
// any moment leaves every live block in a sealed pack. The kubo store's
// Collect instead releases the roots it keeps for a home in the daemon's
// files API (Keep), whose garbage collector keeps, without fetching,
// whatever of them is local.
package ipfsstore
