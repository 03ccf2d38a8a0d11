package ipfsstore

import (
	"context"
	"io"
	"time"

	"github.com/ipfs/go-cid"
)

// ChunkSize is the fixed chunk size of UnixFS file import, the same as
// kubo's default chunker (size-262144).
const ChunkSize = 256 << 10

// Store holds blocks and UnixFS files by CID.
//
// The contract, checked for every implementation by storetest.Run:
//   - Get of a block that is not held returns an *acerr.Error of kind
//     acerr.NotExist naming the CID. Get checks what it returns (kind
//     acerr.Integrity if it fails): against c's hash, or, in the embedded
//     store, against the checksum it kept when the block's hash was
//     checked on the way in. The caller owns the slice.
//   - Put checks that data hashes to c (kind acerr.Integrity otherwise) and
//     that len(data) <= schema.MaxBlockSize (kind acerr.TooLarge); nothing
//     is stored on failure. Put is idempotent. Put does not keep data. In the embedded
//     store, Put of a block whose stored copy fails Get's check stores data
//     in its place, so that Get returns it: a Put repairs damage.
//   - Blocks are identified by their multihash: a block put under one codec
//     or CID version is also found under another with the same hash.
//   - AddFile gives the CID that `ipfs add --cid-version=1` gives for the
//     same bytes: 256 KiB fixed chunks, raw leaves, balanced layout, CIDv1,
//     sha2-256. A file of at most one chunk is a single raw block.
//   - The undefined CID is refused with kind acerr.Invalid.
//   - A block is durable once Put has returned and, for stores that
//     implement Syncer, Sync has returned.
//   - All methods are safe for concurrent use. After Close they fail, and
//     Close itself may be called again.
//   - Every error is an *acerr.Error that prints as one line naming the
//     operation and the CID (and, for a daemon, its address).
type Store interface {
	// Get returns the bytes of block c.
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
	// Has reports whether block c is held (for kubo: held by the daemon
	// itself, without asking its peers).
	Has(ctx context.Context, c cid.Cid) (bool, error)
	// Put stores data as block c.
	Put(ctx context.Context, c cid.Cid, data []byte) error
	// AddFile imports r as a UnixFS file and returns its root CID and size
	// (the number of bytes read from r).
	AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error)
	// OpenFile opens the UnixFS file rooted at c for reading. The file's
	// reads use ctx: cancelling it makes them fail. A directory gives kind
	// acerr.IsDir.
	OpenFile(ctx context.Context, c cid.Cid) (File, error)
	// Close releases the store; it syncs what was written.
	Close() error
}

// File is an open UnixFS file. It offers two ways of reading:
//
//   - ReadAt, for random access from many goroutines at once (a FUSE
//     mount's reads). It has io.ReaderAt's semantics (fewer than len(p)
//     bytes only with an error; io.EOF where the file ends first) but
//     takes a context of its own, not the one given to OpenFile; it reads
//     only the blocks under [off, off+len(p)), is safe for concurrent use,
//     also alongside the methods below, and fails at once with an error
//     satisfying errors.Is(err, ctx.Err()) when its context is cancelled,
//     even while a block is still being fetched.
//   - Read, WriteTo where present, and Seek, for a sequential reader
//     (io.Copy): they share a position, are not safe for concurrent use,
//     read ahead, and use the context given to OpenFile. Seek never fails
//     for a position >= 0, including past the end, where Read returns
//     io.EOF; a negative position or an unknown whence is refused and the
//     position kept. Seeking is cheap: the work happens at the next Read.
//
// Close ends both; calls after it fail.
type File interface {
	io.ReadSeekCloser
	// ReadAt reads len(p) bytes at offset off into p.
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	// Size is the file's length in bytes.
	Size() uint64
}

// Syncer is implemented by stores that buffer writes. Sync makes every
// block Put so far durable; the tree calls it before it moves HEAD.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Sizer is implemented by stores that know a block's length without
// reading it. BlockSize returns the length of block c, or an error of
// kind acerr.NotExist if it is not held (as Has would say).
type Sizer interface {
	BlockSize(ctx context.Context, c cid.Cid) (int, error)
}

// Collector is implemented by stores whose blocks can be given back: the
// embedded store (Collect rewrites its packs without the blocks nothing
// kept reaches) and kubo (Keep holds the home's roots in the daemon's
// files API, which its garbage collector keeps as far as they are local,
// and Collect releases those no longer kept).
type Collector interface {
	// Keep keeps what root reaches, as far as the store holds it and
	// without fetching anything, until a Collect that does not keep
	// root. HEAD calls it for every root before it names it.
	Keep(ctx context.Context, root cid.Cid) error
	// Collect keeps what k says and gives back everything else.
	Collect(ctx context.Context, k Keep) (Collected, error)
}

// Keep says what a Collect keeps.
type Keep struct {
	// Roots returns the roots to keep. Collect calls it once it holds
	// the store alone, so that no change comes between.
	Roots func(ctx context.Context) ([]cid.Cid, error)
	// Reach returns whether a block is reached from roots. Only stores
	// that give space back themselves (the embedded store) call it,
	// after Roots.
	Reach func(ctx context.Context, roots []cid.Cid) (func(cid.Cid) bool, error)
	// Wait bounds how long Collect waits for other processes to close
	// the store; zero: until its context ends.
	Wait time.Duration
	// DryRun only reports what a Collect would give back.
	DryRun bool
	// Progress, if set, is told the bytes copied so far and in all.
	Progress func(done, total int64)
}

// Collected says what a Collect gave back (or, in a dry run, would).
type Collected struct {
	Before, After  int64 // bytes of the store's files (After is estimated in a dry run)
	Blocks         int   // blocks kept
	FreedBlocks    int   // blocks given back
	Packs          int   // packs looked at
	PacksRewritten int   // packs copied without their dead blocks
	PacksRemoved   int   // packs that held only dead blocks
	Orphans        int   // files that failed or interrupted writers left
	OrphanBytes    int64
	Roots          int // kubo: roots kept
	Released       int // kubo: roots no longer kept
}

// Freed is the bytes given back.
func (c Collected) Freed() int64 { return c.Before - c.After }
