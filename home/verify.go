package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// VerifyOptions are the options of Verify. The zero value is usable.
type VerifyOptions struct {
	// Content reads every distinct file's bytes too.
	Content bool
	// RepairFrom, if not nil, is where a block found damaged or missing
	// is read again from (a CAR file, a daemon); the check then goes on.
	RepairFrom ipfsstore.Store
	// Progress, if not nil, counts with Content the files and bytes
	// read, as they are read, of the totals a walk beside counts (for a
	// path; the tree database as a whole has no totals). A file whose
	// content was read at another place counts as done at once.
	Progress *progress.Counter
}

// Verify checks the entry at p, and all below it, as a merge checks what
// it takes in (tree.Check under policy.Rules), once per distinct block,
// and returns the blocks it repaired. The tree database itself ("") is
// checked part by part: root/ as a filesystem, identities/, friends/,
// nodes/ and node as what they hold. Open the home with Options.Rehash
// to have every block hashed again, not only its checksum checked. What
// RepairFrom lacks stays an error that says it was not repaired.
func (h *Home) Verify(ctx context.Context, p string, o VerifyOptions) ([]cid.Cid, error) {
	var repaired []cid.Cid
	err := h.verify(ctx, p, o)
	for tried := map[cid.Cid]bool{}; err != nil && o.RepairFrom != nil; err = h.verify(ctx, p, o) {
		c := damagedBlock(err)
		if !c.Defined() || tried[c] {
			break
		}
		tried[c] = true
		if rerr := ipfsstore.Repair(ctx, h.Store, c, o.RepairFrom); rerr != nil {
			return repaired, acerr.E("verify", p, acerr.KindOf(err), fmt.Errorf("%w; not repaired: %s", err, acerr.Brief(rerr)))
		}
		repaired = append(repaired, c)
	}
	if err == nil && len(repaired) > 0 {
		if s, ok := h.Store.(ipfsstore.Syncer); ok {
			err = s.Sync(ctx)
		}
	}
	return repaired, err
}

// damagedBlock returns the block that err, a failed check, names as
// damaged or missing: the innermost one named. Undefined if none.
func damagedBlock(err error) cid.Cid {
	if k := acerr.KindOf(err); k != acerr.Integrity && k != acerr.NotExist {
		return cid.Undef
	}
	found := cid.Undef
	for err != nil {
		if e, ok := err.(*acerr.Error); ok && e.CID != "" {
			if c, derr := cid.Decode(e.CID); derr == nil {
				found = c
			}
		}
		err = errors.Unwrap(err)
	}
	return found
}

// verify checks the entry at p, and all below it, as a merge checks what
// it takes in (tree.Check under policy.Rules), once per distinct block;
// with o.Content, every distinct file's bytes are read too. The tree
// database itself ("") is checked part by part: root/ as a filesystem,
// identities/, friends/, nodes/ and node as what they hold.
func (h *Home) verify(ctx context.Context, p string, o VerifyOptions) error {
	content := o.Content
	head, err := h.Get()
	if err != nil {
		return err
	}
	t := h.Tree(cid.Undef)
	ent, err := t.Lookup(ctx, head, p)
	if err != nil {
		return err
	}
	trust := h.Trust(head)
	if content && o.Progress != nil && p != "" {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { t.CountFiles(cctx, head, p, ent, o.Progress) })
	}
	check := func(p string, e schema.Entry) error {
		// root/ and what a node publishes (nodes/ID/root/...) are filesystems.
		comps := strings.Split(p, "/")
		filesystem := comps[0] == Root || comps[0] == Nodes && len(comps) > 2
		var chk tree.Checker = policy.NewRules(policy.RulesConfig{Resolver: trust, Store: h.Store, Filesystem: filesystem})
		if content {
			chk = &contentRules{Checker: chk, t: t, read: map[cid.Cid]bool{}, progress: o.Progress}
		}
		var err error
		if e.Kind == schema.KindDirectory {
			err = t.NewCheck(chk).Dir(ctx, cid.Undef, e.Target)
		} else {
			err = chk.CheckEntry(ctx, &e, nil)
		}
		return h.NotReceived(ctx, "verify", tree.JoinPath(p, checkedPath(err)), err)
	}
	if p != "" {
		if err := check(p, ent); err != nil {
			return err
		}
		if ent.Kind == schema.KindFile && !ent.Deleted && !content {
			// A file asked for by name: its content must be here to
			// be OK, though a directory's check reads no file.
			held, err := h.Store.Has(ctx, ent.Target)
			if err != nil {
				return err
			}
			if !held {
				return acerr.E("verify", p, acerr.NotExist, errors.New("content not held")).WithHint(MissingBlocksHint)
			}
		}
		return nil
	}
	// The tree database: its top block, then each part.
	top, err := t.ReadDir(ctx, head)
	if err != nil {
		return err
	}
	for _, e := range top {
		if e.Deleted {
			continue
		}
		if err := check(e.Name, e); err != nil {
			return acerr.E("verify", e.Name, acerr.KindOf(err), err)
		}
	}
	return nil
}

// checkedPath is the path, under the directory checked, that the
// innermost failure of a tree.Check names; "" for the directory itself.
func checkedPath(err error) string {
	at := ""
	for e := err; ; {
		var x *acerr.Error
		if !errors.As(e, &x) {
			break
		}
		if x.Op == "tree.Check" && x.Path != "" {
			at = strings.TrimPrefix(x.Path, ".")
		}
		e = x.Err
	}
	return at
}

// contentRules are Rules that also read every distinct file whole: each
// block hash-checked, the size the one its entry states.
type contentRules struct {
	tree.Checker
	t        *tree.Tree
	read     map[cid.Cid]bool
	progress *progress.Counter
}

func (c *contentRules) CheckEntry(ctx context.Context, v *schema.Entry, target *tree.Linked) error {
	if err := c.Checker.CheckEntry(ctx, v, target); err != nil {
		return err
	}
	if v.Kind != schema.KindFile || v.Deleted {
		return nil
	}
	if c.read[v.Target] {
		c.progress.Add(1, int64(v.Size))
		return nil
	}
	f, err := c.t.Open(ctx, *v)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, progress.Reader(f, c.progress)); err != nil {
		return err
	}
	c.progress.Add(1, 0)
	c.read[v.Target] = true
	return nil
}
