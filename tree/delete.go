package tree

import (
	"context"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Deleting a shared directory deletes what it holds, name by name: the
// tombstone of the directory links a copy of it in which every entry,
// recursively, is a tombstone superseding every version it had. A merge
// with a replica that changed the directory meanwhile keeps exactly those
// changes (a concurrent edit beats a delete), and a directory made again
// under the name starts from these tombstones, so nothing deleted comes
// back. Deleting an owned directory takes its owner's key: the tombstone
// links the owner's next signed version, with no entries.

// deletedDir returns what the tombstone of the directory at c links, and
// its owner: for a shared directory, its copy with every entry deleted;
// for an owned one, its owner's signed last version. memo holds what
// this delete already made of a directory, so that directories shared
// under several names cost one read and one write each.
func (t *Tree) deletedDir(ctx context.Context, c cid.Cid, now int64, depth int, memo map[cid.Cid][2]cid.Cid) (cid.Cid, cid.Cid, error) {
	if done, ok := memo[c]; ok {
		return done[0], done[1], nil
	}
	if memo == nil {
		memo = map[cid.Cid][2]cid.Cid{}
	}
	if depth > maxWalkDepth {
		return cid.Undef, cid.Undef, fail(acerr.TooLarge, "directories nested deeper than %d", maxWalkDepth)
	}
	if err := ctx.Err(); err != nil {
		return cid.Undef, cid.Undef, err
	}
	d, err := t.readDirectory(ctx, c)
	if err != nil {
		return cid.Undef, cid.Undef, err
	}
	if d.Owned() {
		r, err := t.retire(ctx, c, d)
		if err != nil {
			return cid.Undef, cid.Undef, err
		}
		memo[c] = [2]cid.Cid{r, d.Owner}
		return r, d.Owner, nil
	}
	entries, err := t.dirEntries(ctx, d)
	if err != nil {
		return cid.Undef, cid.Undef, err
	}
	out := make([]schema.Entry, len(entries))
	for i := range entries {
		if out[i], err = t.deletedEntry(ctx, &entries[i], now, depth+1, memo); err != nil {
			return cid.Undef, cid.Undef, err
		}
	}
	nd, err := t.build(ctx, &schema.Directory{}, out)
	if err != nil {
		return cid.Undef, cid.Undef, err
	}
	nc, err := t.putNode(ctx, nd)
	if err != nil {
		return cid.Undef, cid.Undef, err
	}
	memo[c] = [2]cid.Cid{nc, cid.Undef}
	return nc, cid.Undef, nil
}

// deletedEntry returns e deleted: a tombstone that supersedes every
// version of e it may (see schema.Supersedes); e itself if they are all
// tombstones already.
func (t *Tree) deletedEntry(ctx context.Context, e *schema.Entry, now int64, depth int, memo map[cid.Cid][2]cid.Cid) (schema.Entry, error) {
	live := false
	for _, v := range e.Versions() {
		live = live || !v.Deleted
	}
	if !live {
		return *e, nil
	}
	ts := schema.Entry{Name: e.Name, Kind: e.Kind, Mtime: now, VV: t.bump(e), Deleted: true, By: t.cfg.By}
	if e.Kind == schema.KindDirectory && !e.Deleted {
		var err error
		if ts.Target, ts.Owner, err = t.deletedDir(ctx, e.Target, now, depth, memo); err != nil {
			return ts, err
		}
	}
	return changedEntry(e, ts), nil
}

// retire returns the last version of the owned directory d (at c): the
// next seq, no entries, signed by its owner, which Signer must hold.
func (t *Tree) retire(ctx context.Context, c cid.Cid, d *schema.Directory) (cid.Cid, error) {
	if t.cfg.Signer == nil {
		return cid.Undef, fail(acerr.Permission, "a directory owned by %s: only its owner deletes it", d.Owner)
	}
	r := &schema.Directory{Owner: d.Owner, Seq: d.Seq + 1, Prev: c}
	if err := t.cfg.Signer.SignDirectory(ctx, r); err != nil {
		return cid.Undef, err
	}
	return t.putNode(ctx, r)
}

// deletedContents returns the contents a directory made again under the
// name of old starts from: the deleted copy a shared directory's
// tombstone links, else nothing.
func (t *Tree) deletedContents(ctx context.Context, old *schema.Entry) (cid.Cid, error) {
	if old == nil {
		return cid.Undef, nil
	}
	// Any version of a shared directory: they all link the same merged
	// contents. The one shown may be a file put where the directory was
	// deleted; the directory's tombstone stays beside it.
	for _, v := range old.Versions() {
		if v.Kind != schema.KindDirectory || !v.Target.Defined() || v.Owner.Defined() {
			continue
		}
		d, err := t.readDirectory(ctx, v.Target)
		if err != nil {
			return cid.Undef, err
		}
		if !d.Owned() {
			return v.Target, nil
		}
	}
	return cid.Undef, nil
}
