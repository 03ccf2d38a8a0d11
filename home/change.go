package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/localfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// The use-cases that change a home's filesystem. Each is one change of
// HEAD (Update), computed from the HEAD it replaces; the command it is
// recorded as in the log is the caller's (the commands record their own
// name and arguments), or the use-case's name when empty.

// CleanPath cleans a path in the tree database as a user gives it:
// leading and trailing slashes are dropped; ".", ".." and empty
// components are refused rather than resolved, so a path always names
// what it says.
func CleanPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, c := range strings.Split(p, "/") {
		if err := schema.ValidName(c); err != nil {
			return "", acerr.E("path", p, acerr.Invalid, err)
		}
	}
	return p, nil
}

// InRoot reports whether p is root/ or a path under it: the filesystem,
// where files are added, restored and merged into.
func InRoot(p string) bool { return p == Root || strings.HasPrefix(p, Root+"/") }

// topLevel reports whether p is one of the top-level directories of the
// tree database, which are never deleted.
func topLevel(p string) bool {
	switch p {
	case "", Root, Identities, Friends, Aliases, Nodes:
		return true
	}
	return false
}

func command(c, dflt string) string {
	if c == "" {
		return dflt
	}
	return c
}

// writer returns the tree that changes this home: this replica, owned
// directories signed with the home's keys.
func (h *Home) writer() *tree.Tree {
	return tree.New(h.Store, h.TreeConfig(cid.Undef, h.keys()))
}

// AddOptions are the options of AddLocal. The zero value is usable.
type AddOptions struct {
	Command string // what the log records; empty: "add DEST"
	// Into puts SRC inside DEST, under SRC's own name, where DEST is a
	// directory (cp's rule for "cp SRC DIR/"). A file SRC always goes
	// into a directory DEST.
	Into bool
	// Stdin is read for the SRC "-": its bytes become one file at DEST
	// (mode 0644, modified now).
	Stdin io.Reader
	// DryRun reads and hashes SRC and computes the change on an overlay
	// of the store that is then dropped: no block is kept (a file's are
	// not even held in memory), HEAD does not move.
	DryRun bool
	// Workers, Progress and Skipped are localfs.ImportConfig's.
	Workers  int
	Progress *progress.Counter
	Skipped  func(path, why string)
}

// Added is what AddLocal added.
type Added struct {
	Path    string        // where: DEST, or DEST/NAME when it went into a directory
	Entry   schema.Entry  // the entry at DEST afterwards
	Files   int64         // files read
	Bytes   int64         // bytes read
	Changed bool          // whether HEAD moved (or, dry, would): false when nothing differed
	Changes []tree.Change // what changed (or would), paths from the top of the tree database
}

// AddLocal imports the local file or directory src into the tree at
// dest, a path under root/. A src of the form /ipfs/CID[/PATH] or
// ipfs://CID[/PATH] is a UnixFS file or directory already in IPFS: its
// directories are read (through HAMT shards) and each file is taken by
// its root CID, whose contents are fetched only when read (IPFSPath,
// ipfsSource); symlinks in it are skipped. A directory added where one is (or was)
// changes it as the file-by-file changes would (tree.PutTree, with what
// src no longer holds deleted); a file replaces a file; another kind at
// dest must be deleted first.
func (h *Home) AddLocal(ctx context.Context, src, dest string, o AddOptions) (Added, error) {
	const op = "add"
	if !strings.HasPrefix(dest, Root+"/") {
		return Added{}, acerr.E(op, dest, acerr.Invalid, errors.New("a destination is a path under root/, such as root/projects/NAME"))
	}
	counts := o.Progress
	if counts == nil {
		counts = &progress.Counter{}
	}
	var st ipfsstore.Store = h.Store
	if o.DryRun {
		ov := dryRunStore{ipfsstore.NewOverlay(h.Store)}
		defer ov.Close()
		st = ov
	}
	t := tree.New(st, h.TreeConfig(cid.Undef, h.keys()))
	var s *tree.Source
	root, sub, fromIPFS, err := IPFSPath(src)
	if err != nil {
		return Added{}, err
	}
	if fromIPFS {
		s, err = ipfsSource(ctx, st, src, root, sub, counts, o.Skipped)
	} else if src == "-" {
		s, err = stdinSource(ctx, st, o.Stdin, counts, h.Now())
	} else {
		cfg := localfs.ImportConfig{Workers: o.Workers, Progress: counts, Totals: o.Progress != nil, Skipped: o.Skipped}
		if !o.DryRun && h.freshDest(ctx, t, src, dest, o.Into) {
			// Nothing is there: each directory is made whole as soon as
			// it is imported, so memory holds the directories being
			// imported, not the tree. (Should something come there
			// before HEAD moves, PutTree reads them back.)
			cfg.Fold = t.Fold
		}
		s, err = localfs.Import(ctx, st, src, cfg)
	}
	if err != nil {
		return Added{}, err
	}
	var before cid.Cid
	to := dest
	put := func(old cid.Cid) (cid.Cid, error) {
		before, to = old, dest
		if o.Into || s.Entry.Kind != schema.KindDirectory {
			if e, err := t.Lookup(ctx, old, dest); err == nil && e.Kind == schema.KindDirectory {
				if src == "-" {
					return cid.Undef, acerr.E(op, dest, acerr.IsDir, errors.New("is a directory: name the file that standard input becomes"))
				}
				to = tree.JoinPath(dest, s.Entry.Name)
			}
		}
		return t.PutTree(ctx, old, to, s, true)
	}
	var head cid.Cid
	if o.DryRun {
		if before, err = h.Get(); err == nil {
			head, err = put(before)
		}
	} else {
		head, err = h.Update(ctx, command(o.Command, "add "+dest), put)
	}
	if err != nil {
		return Added{}, err
	}
	e, err := t.Lookup(ctx, head, to)
	if err != nil {
		return Added{}, err
	}
	done := counts.Snapshot()
	a := Added{Path: to, Entry: e, Files: done.Files, Bytes: done.Bytes, Changed: !head.Equals(before)}
	if a.Changed {
		err = t.Changes(ctx, before, head, func(c tree.Change) error {
			a.Changes = append(a.Changes, c)
			return nil
		})
	}
	return a, err
}

// freshDest reports whether adding the local directory src at dest (in
// it, with into) would make it whole in the tree HEAD holds now.
func (h *Home) freshDest(ctx context.Context, t *tree.Tree, src, dest string, into bool) bool {
	head, err := h.Get()
	if err != nil {
		return false
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return false
	}
	if e, err := t.Lookup(ctx, head, dest); err == nil && into && e.Kind == schema.KindDirectory {
		dest = tree.JoinPath(dest, filepath.Base(src))
	}
	return t.Fresh(ctx, head, dest)
}

// dryRunStore is an Overlay whose AddFile only hashes: a dry run of
// AddLocal computes every file's CID and keeps none of its blocks,
// however large the file.
type dryRunStore struct{ *ipfsstore.Overlay }

func (dryRunStore) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	return unixfs.Import(ctx, r, func(context.Context, cid.Cid, []byte) error { return nil })
}

// stdinSource stores what r holds as one file: the Source of ac-add -.
func stdinSource(ctx context.Context, st ipfsstore.Store, r io.Reader, p *progress.Counter, now time.Time) (*tree.Source, error) {
	if r == nil {
		return nil, acerr.E("add", "-", acerr.Invalid, errors.New("no standard input to read"))
	}
	c, n, err := st.AddFile(ctx, progress.Reader(r, p))
	if err != nil {
		return nil, acerr.E("add", "standard input", acerr.KindOf(err), err)
	}
	p.Add(1, 0)
	return &tree.Source{Entry: schema.Entry{Kind: schema.KindFile, Target: c, Size: n, Mode: 0o644, Mtime: now.UnixNano()}}, nil
}

// GetLocal exports the file or directory at p to the local path dest, as
// localfs.Export does, from the current HEAD.
func (h *Home) GetLocal(ctx context.Context, p, dest string, cfg localfs.ExportConfig) error {
	head, err := h.Get()
	if err != nil {
		return err
	}
	err = localfs.Export(ctx, h.Tree(cid.Undef), h.Store, head, p, dest, cfg)
	if err == nil {
		return nil
	}
	at := acerr.Object(err)
	if !strings.HasPrefix(at+"/", p+"/") {
		at = p // the export's own path, or a directory's block on the way
	}
	return h.NotReceived(ctx, "get", at, err)
}

// DeleteOptions are the options of Delete. The zero value is usable.
type DeleteOptions struct {
	Command string // what the log records; empty: "delete PATH"
	// Force deletes an identity (identities/NAME), which is refused
	// without it: nothing can be signed with it afterwards (its key stays
	// in the keystore, and Restore brings the identity back).
	Force bool
}

// Delete deletes the entry at p: in a shared directory a tombstone, so
// that the deletion reaches friends when they merge. The top-level
// directories (root, identities, friends, aliases, nodes) are never
// deleted, and an identity only with o.Force.
func (h *Home) Delete(ctx context.Context, p string, o DeleteOptions) error {
	cmd := o.Command
	if strings.HasPrefix(p, Identities+"/") && !o.Force {
		return acerr.E("delete", p, acerr.Permission, errors.New("an identity deleted signs nothing more (its key stays, and ac-restore brings it back): give --force to delete it"))
	}
	if topLevel(p) {
		name := p
		if name == "" {
			name = "/" // the tree database itself
		}
		return acerr.E("delete", name, acerr.Permission, errors.New("the top-level directories cannot be deleted"))
	}
	t := h.writer()
	_, err := h.Update(ctx, command(cmd, "delete "+p), func(old cid.Cid) (cid.Cid, error) {
		return t.Delete(ctx, old, p)
	})
	return err
}

// Put sets the entry at p, a path under root/, as tree.Put does.
func (h *Home) Put(ctx context.Context, p string, e schema.Entry, cmd string) error {
	if !strings.HasPrefix(p, Root+"/") {
		return acerr.E("put", p, acerr.Invalid, errors.New("only paths under root/ are put"))
	}
	t := h.writer()
	_, err := h.Update(ctx, command(cmd, "put "+p), func(old cid.Cid) (cid.Cid, error) {
		return t.Put(ctx, old, p, e)
	})
	return err
}

// Move moves the entry at src to dst, both under root/, as tree.Move
// does, in one change. As with mv, a directory at dst receives src
// inside it, under its own name; the path it went to is returned.
func (h *Home) Move(ctx context.Context, src, dst, cmd string) (string, error) {
	return h.relocate(ctx, "move", src, dst, cmd, (*tree.Tree).Move)
}

// Copy copies the entry at src (under root/, or under a friend's
// nodes/ID/root/) to dst, under root/, as tree.Copy does: the copy shares
// every block with the original. As with cp, a
// directory at dst receives the copy inside it; the path of the copy is
// returned.
func (h *Home) Copy(ctx context.Context, src, dst, cmd string) (string, error) {
	return h.relocate(ctx, "copy", src, dst, cmd, (*tree.Tree).Copy)
}

// relocate runs Move or Copy with the rule of mv and cp: a directory at
// dst (not src itself) receives src inside it.
func (h *Home) relocate(ctx context.Context, what, src, dst, cmd string,
	do func(*tree.Tree, context.Context, cid.Cid, string, string) (cid.Cid, error)) (string, error) {
	from := strings.HasPrefix(src, Root+"/") || what == "copy" && strings.HasPrefix(src, Nodes+"/")
	if !from || !strings.HasPrefix(dst, Root+"/") && dst != Root {
		return "", acerr.E(what, src, acerr.Invalid, fmt.Errorf("a %s goes from under %s/ (or, for a copy, a friend's %s/ID/root/) to under %s/", what, Root, Nodes, Root))
	}
	t := h.writer()
	var to string
	_, err := h.Update(ctx, command(cmd, what+" "+src+" "+dst), func(old cid.Cid) (cid.Cid, error) {
		to = dst
		if e, err := t.Lookup(ctx, old, dst); err == nil && e.Kind == schema.KindDirectory && dst != src {
			to = tree.JoinPath(dst, src[strings.LastIndexByte(src, '/')+1:])
		}
		return do(t, ctx, old, src, to)
	})
	return to, err
}

// Restored is what Restore put back.
type Restored struct {
	Entries int  // files and directories put back, the path itself included
	Changed bool // whether HEAD moved
}

// Restore brings back p, a path under root/ or an identity, as it was in the tree
// database at root then, as new changes that win over what they undo
// (tree.PutTree without deleting: what is at p now and was not then
// stays).
func (h *Home) Restore(ctx context.Context, p string, then cid.Cid, cmd string) (Restored, error) {
	if (!InRoot(p) || p == Root) && !strings.HasPrefix(p, Identities+"/") {
		return Restored{}, acerr.E("restore", p, acerr.Invalid, fmt.Errorf("only paths under %s/ (or an identity under %s/) can be restored", Root, Identities))
	}
	t := h.writer()
	src, err := t.SourceOf(ctx, then, p)
	if err != nil {
		return Restored{}, acerr.E("restore", p, acerr.KindOf(err), fmt.Errorf("not there at %s: %w", then, err))
	}
	var before cid.Cid
	head, err := h.Update(ctx, command(cmd, "restore "+p), func(old cid.Cid) (cid.Cid, error) {
		before = old
		return t.PutTree(ctx, old, p, src, false)
	})
	if err != nil {
		return Restored{}, err
	}
	return Restored{Entries: countSource(src), Changed: !head.Equals(before)}, nil
}

// countSource returns how many files and directories src holds, itself
// included.
func countSource(src *tree.Source) int {
	n := 1
	for _, c := range src.Children {
		n += countSource(c)
	}
	return n
}

// Before returns the root of the tree database before the change that
// log entry n made (1 is the newest). A tree that a GC gave back is an
// error saying so (GivenBackError).
func (h *Home) Before(ctx context.Context, n int) (cid.Cid, error) {
	log, err := h.Head.Log()
	if err != nil {
		return cid.Undef, err
	}
	switch {
	case n < 1:
		return cid.Undef, acerr.E("log", "", acerr.Invalid, errors.New("entries are numbered from 1, the newest"))
	case n > len(log):
		return cid.Undef, acerr.E("log", "", acerr.NotExist, fmt.Errorf("the log has %d entries", len(log)))
	case !log[n-1].Old.Defined():
		return cid.Undef, acerr.E("log", "", acerr.NotExist, errors.New("nothing was there before that change"))
	}
	g, err := h.Given()
	if err != nil {
		return cid.Undef, err
	}
	run, err := g.Of(ctx, log[n-1].Old)
	if err != nil {
		return cid.Undef, err
	}
	if run != nil {
		return cid.Undef, GivenBackError("log", run)
	}
	return log[n-1].Old, nil
}

// NewIdentity makes an identity named name at identities/NAME: an
// ed25519 key pair, the private key saved in the keystore (sealed with
// pass, if not empty) before HEAD names the identity, the public part a
// self-signed identity_v1 block. A name already taken is refused.
func (h *Home) NewIdentity(ctx context.Context, name string, pass []byte, cmd string) (cid.Cid, error) {
	p := Identities + "/" + name
	id, priv, err := identity.New(name, h.Now())
	if err != nil {
		return cid.Undef, err
	}
	c, block := schema.Block(id)
	if err := h.Store.Put(ctx, c, block); err != nil {
		return cid.Undef, err
	}
	t := h.Tree(c)
	_, err = h.Update(ctx, command(cmd, "identity new "+p), func(old cid.Cid) (cid.Cid, error) {
		if _, err := t.Lookup(ctx, old, p); err == nil {
			return cid.Undef, acerr.E("identity", p, acerr.Exist, nil)
		} else if !acerr.Is(acerr.NotExist, err) {
			return cid.Undef, err
		}
		// The key is saved once the name is free, before HEAD names the
		// identity; a retry of this change finds it saved.
		if !h.Keys.Has(c) {
			if err := h.Keys.Save(c, priv, pass); err != nil {
				return cid.Undef, err
			}
		}
		return t.Put(ctx, old, p, schema.Entry{Kind: schema.KindIdentity, Target: c})
	})
	return c, err
}
