package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// ErrBadRetirement is wrapped into the error of a deleted owned directory
// whose tombstone links anything but an empty version of it: only its
// owner deletes it, by signing a last version without entries.
var ErrBadRetirement = errors.New("bad deletion of an owned directory")

// Rules are the rules of the node kinds as a tree.Checker: what a tree
// from outside must satisfy before anything of it is linked into mine.
// tree.Check decides the structure; Rules decide the rest:
//
//   - an owned directory is signed by its owner, who must be mine or a
//     friend (Check);
//   - links have the codec their role calls for (dag-cbor nodes, dag-pb or
//     raw file contents);
//   - an entry that links a directory names the directory's owner, or
//     none for a shared one, so no version escapes its owner's rules;
//   - the deletion of an owned directory links an empty version of it;
//   - a file's size is the size its root block states, wherever the root
//     block is held (file contents are not needed to merge, and are not
//     fetched; a read checks them as it goes);
//   - an identity entry links a self-signed identity, a node entry a
//     node signed by an owner who resolves;
//   - in a filesystem (Filesystem), only directories and files.
//
// Rules remember the files they have checked. They are not safe for
// concurrent use; make one per Check.
type Rules struct {
	r          Resolver
	store      ipfsstore.Store
	filesystem bool
	files      map[cid.Cid]uint64
}

var _ tree.Checker = (*Rules)(nil)

// RulesConfig is what Rules need.
type RulesConfig struct {
	// Resolver names the trusted identities: mine and my friends'. Nil
	// trusts nobody, so every owned directory and node is refused.
	Resolver Resolver
	// Store holds the blocks: file roots are looked for here, identity
	// and node blocks read from here. Required.
	Store ipfsstore.Store
	// Filesystem says the tree is a filesystem (what root/ holds):
	// directories and files only. False also allows identity and node
	// entries, as the tree database's identities/, friends/ and nodes/
	// hold.
	Filesystem bool
}

// NewRules returns the rules for one Check.
func NewRules(cfg RulesConfig) *Rules {
	return &Rules{r: cfg.Resolver, store: cfg.Store, filesystem: cfg.Filesystem, files: map[cid.Cid]uint64{}}
}

// CheckDirectory checks an owned directory's signature and owner. A
// shared directory carries nothing to check beyond its structure.
func (u *Rules) CheckDirectory(ctx context.Context, c cid.Cid, d *schema.Directory) error {
	if !d.Owned() {
		return nil
	}
	return Check(ctx, u.r, c, d)
}

// CheckEntry checks one version of an entry against the rules above.
func (u *Rules) CheckEntry(ctx context.Context, v *schema.Entry, target *tree.Linked) error {
	const op = "policy.CheckEntry"
	bad := func(kind acerr.Kind, err error) error { return acerr.E(op, "", kind, err) }
	if u.filesystem && v.Kind != schema.KindDirectory && v.Kind != schema.KindFile {
		return bad(acerr.Invalid, fmt.Errorf("%s in a filesystem, which holds only directories and files", v.Kind))
	}
	if err := optionalNodeLink("by", v.By); err != nil {
		return bad(acerr.Invalid, err)
	}
	if !v.Target.Defined() {
		return nil
	}
	switch v.Kind {
	case schema.KindFile:
		if err := fileLink("target", v.Target); err != nil {
			return bad(acerr.Invalid, err)
		}
		return u.checkSize(ctx, v)
	case schema.KindDirectory:
		if err := nodeLink("target", v.Target); err != nil {
			return bad(acerr.Invalid, err)
		}
		if target == nil {
			return bad(acerr.Invalid, errors.New("directory entry without the directory it links"))
		}
		if !target.Owner.Equals(v.Owner) {
			return bad(acerr.Integrity, fmt.Errorf("the entry says the directory is owned by %s, the directory says %s",
				ownerName(v.Owner), ownerName(target.Owner)))
		}
		if v.Deleted && target.Owner.Defined() && !target.Empty {
			return bad(acerr.Permission, fmt.Errorf("%w: the deletion links a version of %s's directory that has entries",
				ErrBadRetirement, Short(target.Owner)))
		}
		return nil
	default: // identity_v1, node_v1: nodes of their own, checked whole
		if err := nodeLink("target", v.Target); err != nil {
			return bad(acerr.Invalid, err)
		}
		data, err := u.store.Get(ctx, v.Target)
		if err != nil {
			return err
		}
		n, err := schema.Decode(data)
		if err != nil {
			return err
		}
		if n.Kind() != v.Kind {
			return bad(acerr.Integrity, fmt.Errorf("the entry says %s, the node is %s", v.Kind.Noun(), n.Kind().Noun()))
		}
		return Check(ctx, u.r, v.Target, n)
	}
}

// checkSize checks a live file's size against its root block, if held.
func (u *Rules) checkSize(ctx context.Context, v *schema.Entry) error {
	size, ok := u.files[v.Target]
	if !ok {
		var held bool
		var err error
		if size, held, err = ipfsstore.HeldFileSize(ctx, u.store, v.Target); err != nil {
			return err
		}
		if !held {
			return nil
		}
		u.files[v.Target] = size
	}
	if size != v.Size {
		return acerr.E("policy.CheckEntry", "", acerr.Integrity, fmt.Errorf("the entry says the file has %d bytes, its content has %d", v.Size, size))
	}
	return nil
}

func ownerName(c cid.Cid) string {
	if !c.Defined() {
		return "nobody (shared)"
	}
	return Short(c)
}
