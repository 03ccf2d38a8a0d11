package tree

import (
	"context"
	"time"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// The targets of a directory's tree nodes, in encoded bytes of their
// items (see boundary): leaves average about their target, and no node
// passes four times it. Every replica must cut the same entries in the
// same places to give the same CIDs, so these are part of the data
// format: change them only in tests.
const (
	DefaultLeafTarget  = 1 << 10
	DefaultInnerTarget = 1 << 10
)

// MaxTarget is the largest LeafTarget or InnerTarget a Tree uses; larger
// values are lowered to it, so that a node (at most four targets and one
// item) stays within schema.MaxBlockSize.
const MaxTarget = 64 << 10

// MaxPathLen is the longest path, in bytes, that a Tree accepts.
const MaxPathLen = 4096

// Config controls how a Tree builds nodes. The zero value of each field is
// usable and documented on the field; DefaultConfig spells the defaults out.
type Config struct {
	// LeafTarget and InnerTarget are the targets of the leaves and the
	// inner nodes of directories' trees. Zero or less means the default;
	// values above MaxTarget mean MaxTarget. Tests set them small to get
	// trees of many nodes from few entries.
	LeafTarget, InnerTarget int

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
	// that reads the same directories and tree nodes several times (a merge)
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
		LeafTarget:  DefaultLeafTarget,
		InnerTarget: DefaultInnerTarget,
		Now:         time.Now,
	}
}

// normalize fills in defaults and clamps the targets.
func (c Config) normalize() Config {
	if c.LeafTarget <= 0 {
		c.LeafTarget = DefaultLeafTarget
	}
	c.LeafTarget = min(c.LeafTarget, MaxTarget)
	if c.InnerTarget <= 0 {
		c.InnerTarget = DefaultInnerTarget
	}
	c.InnerTarget = min(c.InnerTarget, MaxTarget)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
