package tree

import (
	"context"
	"time"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Default limits. Every replica must use the same limits for the same
// entries to give the same CIDs, so these are part of the data format:
// change them only in tests.
const (
	DefaultInlineLimit = 64 << 10  // entry bytes a directory keeps inline
	DefaultLeafLimit   = 256 << 10 // entry bytes in one shard leaf
)

// MaxLimit is the largest InlineLimit or LeafLimit a Tree uses; larger
// values are lowered to it so that no block exceeds schema.MaxBlockSize.
// The 4 KiB margin covers a directory's owner, prev, seq and sig fields and
// a shard's header.
const MaxLimit = schema.MaxBlockSize - 4<<10

// MaxPathLen is the longest path, in bytes, that a Tree accepts.
const MaxPathLen = 4096

// Config controls how a Tree builds nodes. The zero value of each field is
// usable and documented on the field; DefaultConfig spells the defaults out.
type Config struct {
	// InlineLimit is the largest summed schema.EntrySize of a directory's
	// entries (tombstones included) that the directory keeps inline; above
	// it the entries move to a shard tree. Zero or less means
	// DefaultInlineLimit; values above MaxLimit mean MaxLimit.
	InlineLimit int

	// LeafLimit is the largest summed entry size of one shard leaf; a
	// shard node whose entries pass it becomes an inner node. Zero or less
	// means DefaultLeafLimit; values above MaxLimit mean MaxLimit.
	LeafLimit int

	// Replica is this replica's id, the key that Put and Delete increment
	// in version vectors: 1 to 64 bytes. Empty means read-only: Put and
	// Delete fail with acerr.Invalid (MakeDir and reads still work).
	Replica string

	// By is the identity recorded in the By field of entries that Put and
	// Delete write. Undefined means Put keeps the By of the entry it is
	// given and everything else gets no By.
	By cid.Cid

	// Now gives the time of changes. Nil means time.Now.
	Now func() time.Time

	// Signer re-signs an owned directory after a change. Nil means owned
	// directories cannot be changed: such a change fails with
	// acerr.Permission.
	Signer Signer

	// NodeCache is how many decoded nodes the Tree keeps, so that work
	// that reads the same directories and shards several times (a merge)
	// decodes each once. Zero keeps none.
	NodeCache int
}

// Signer signs a new version of an owned directory. The Tree has already
// set d.Seq to the old Seq + 1, d.Prev to the old version's CID and d.Sig
// to nil; SignDirectory fills d.Sig, or fails (for instance with
// acerr.Permission when it does not hold the owner's key).
type Signer interface {
	SignDirectory(ctx context.Context, d *schema.Directory) error
}

// DefaultConfig returns the configuration the zero Config stands for,
// with every default filled in.
func DefaultConfig() Config {
	return Config{
		InlineLimit: DefaultInlineLimit,
		LeafLimit:   DefaultLeafLimit,
		Now:         time.Now,
	}
}

// normalize fills in defaults and clamps the limits.
func (c Config) normalize() Config {
	if c.InlineLimit <= 0 {
		c.InlineLimit = DefaultInlineLimit
	}
	c.InlineLimit = min(c.InlineLimit, MaxLimit)
	if c.LeafLimit <= 0 {
		c.LeafLimit = DefaultLeafLimit
	}
	c.LeafLimit = min(c.LeafLimit, MaxLimit)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
