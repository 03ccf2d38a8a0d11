package home

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// maxIPFSDepth is the deepest directory AddLocal takes from IPFS: the
// depth merges follow.
const maxIPFSDepth = 2048

// maxIPFSEntries is the most entries an add takes from IPFS: a DAG can
// link one directory from many places, and a few blocks could then stand
// for more entries than memory holds.
var maxIPFSEntries = 1 << 22 // a variable for tests

// maxIPFSFiles is the most file roots an add remembers, so that a file
// held under many names is read once.
const maxIPFSFiles = 1 << 20

// IPFSPath reports whether src names IPFS content, /ipfs/CID[/PATH] or
// ipfs://CID[/PATH], and returns the CID and the path below it. A src
// that starts so but whose CID does not parse is an error.
func IPFSPath(src string) (root cid.Cid, sub string, ok bool, err error) {
	rest, ok := strings.CutPrefix(src, "/ipfs/")
	if !ok {
		if rest, ok = strings.CutPrefix(src, "ipfs://"); !ok {
			return cid.Undef, "", false, nil
		}
	}
	first, sub, _ := strings.Cut(rest, "/")
	root, err = cid.Decode(first)
	if err != nil {
		return cid.Undef, "", true, acerr.E("add", src, acerr.Invalid, errors.New("not a CID after /ipfs/ or ipfs://"))
	}
	sub = strings.Trim(sub, "/")
	if sub != "" {
		if _, err := CleanPath(sub); err != nil {
			return cid.Undef, "", true, acerr.E("add", src, acerr.Invalid, errors.New("a path after the CID names entries: no empty, . or .. components"))
		}
	}
	return root, sub, true, nil
}

// ipfsWalk makes the Source of a UnixFS DAG: its directories read
// through, its files taken by their root CIDs. Of each file only the root
// block is read, for its size (and not even that for a raw block where
// the store knows its length or the directory states it): the contents
// stay where they are, fetched when read.
type ipfsWalk struct {
	st      ipfsstore.Store
	get     unixfs.GetFunc
	counts  *progress.Counter
	skipped func(p, why string)
	files   map[cid.Cid]unixfs.Node // files already read: the same file under many names is read once
	fetched map[cid.Cid][]byte      // root blocks prefetched for the entries being read
	entries int                     // entries taken so far
}

// ipfsSource makes the Source of the UnixFS DAG at src (IPFSPath's root
// and sub).
func ipfsSource(ctx context.Context, st ipfsstore.Store, src string, root cid.Cid, sub string, p *progress.Counter, skipped func(p, why string)) (*tree.Source, error) {
	w := &ipfsWalk{st: st, get: unixfs.WithInline(st.Get), counts: p, skipped: skipped, files: map[cid.Cid]unixfs.Node{}, fetched: map[cid.Cid][]byte{}}
	if skipped == nil {
		w.skipped = func(string, string) {}
	}
	name, c, tsize := root.String(), root, int64(-1)
	at := "/ipfs/" + root.String()
	for _, part := range strings.Split(sub, "/") {
		if part == "" {
			continue
		}
		nd, _, err := w.stat(ctx, at, c, tsize)
		if err != nil {
			return nil, err
		}
		ents, err := w.readDir(ctx, at, c, nd)
		if err != nil {
			return nil, err
		}
		found := false
		for _, e := range ents {
			if e.Name == part {
				name, c, tsize, found = e.Name, e.CID, linkSize(e.Tsize), true
				break
			}
		}
		at += "/" + part
		if !found {
			return nil, acerr.E("add", at, acerr.NotExist, nil)
		}
	}
	s, err := w.source(ctx, at, name, c, tsize, 0)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, acerr.E("add", src, acerr.Invalid, errors.New("a symbolic link: only files and directories are added"))
	}
	return s, nil
}

// stat returns what the root block of c says, reading it only where it
// must: a raw block is a file whose length the store may know, or the
// directory states (tsize, -1 when nothing states it). A length taken
// from the directory is checked when the file is read (tree.CheckSize).
func (w *ipfsWalk) stat(ctx context.Context, at string, c cid.Cid, tsize int64) (unixfs.Node, bool, error) {
	if nd, ok := w.files[c]; ok {
		return nd, true, nil
	}
	if c.Type() == cid.Raw {
		if b, ok := unixfs.Inline(c); ok {
			return unixfs.Node{Kind: unixfs.KindFile, Size: uint64(len(b))}, true, nil
		}
		if _, ok := w.st.(ipfsstore.Sizer); ok {
			n, err := ipfsstore.BlockSize(ctx, w.st, c)
			if err == nil {
				return unixfs.Node{Kind: unixfs.KindFile, Size: uint64(n)}, true, nil
			}
			if !acerr.Is(acerr.NotExist, err) {
				return unixfs.Node{}, false, acerr.E("add", at, acerr.KindOf(err), err)
			}
		}
		if tsize >= 0 && tsize <= schema.MaxBlockSize {
			return unixfs.Node{Kind: unixfs.KindFile, Size: uint64(tsize)}, false, nil
		}
	}
	b, ok := w.fetched[c]
	delete(w.fetched, c)
	if !ok {
		var err error
		if b, err = w.get(ctx, c); err != nil {
			return unixfs.Node{}, false, ipfsErr(at, c, err)
		}
	}
	nd, err := unixfs.Stat(c, b)
	if err != nil {
		return unixfs.Node{}, false, ipfsErr(at, c, err)
	}
	if nd.Kind == unixfs.KindFile && len(w.files) < maxIPFSFiles {
		w.files[c] = nd
	}
	return nd, true, nil
}

func (w *ipfsWalk) readDir(ctx context.Context, at string, c cid.Cid, nd unixfs.Node) ([]unixfs.DirEntry, error) {
	ents, err := unixfs.ReadDir(ctx, w.get, c, nd)
	if err != nil {
		return nil, ipfsErr(at, c, err)
	}
	return ents, nil
}

// source returns the Source of the DAG c, named name, at the IPFS path
// at; nil for a symlink, which is skipped.
func (w *ipfsWalk) source(ctx context.Context, at, name string, c cid.Cid, tsize int64, depth int) (*tree.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if depth > maxIPFSDepth {
		return nil, acerr.E("add", at, acerr.TooLarge, fmt.Errorf("directories nested more than %d deep", maxIPFSDepth))
	}
	if err := schema.ValidName(name); err != nil {
		return nil, acerr.E("add", at, acerr.Invalid, err)
	}
	if w.entries++; w.entries > maxIPFSEntries {
		return nil, acerr.E("add", at, acerr.TooLarge, fmt.Errorf("more than %d entries in all", maxIPFSEntries))
	}
	nd, _, err := w.stat(ctx, at, c, tsize)
	if err != nil {
		return nil, err
	}
	switch nd.Kind {
	case unixfs.KindSymlink:
		if depth > 0 {
			w.skipped(at, "a symbolic link")
		}
		return nil, nil
	case unixfs.KindFile:
		if nd.Size > schema.MaxUint {
			return nil, acerr.E("add", at, acerr.TooLarge, fmt.Errorf("a file of %d bytes", nd.Size))
		}
		mode := uint32(0o644)
		if nd.HasMode {
			mode = nd.Mode
		}
		w.counts.Add(1, int64(nd.Size))
		return &tree.Source{Entry: schema.Entry{Name: name, Kind: schema.KindFile, Target: c, Size: nd.Size, Mode: mode, Mtime: nd.Mtime}}, nil
	}
	ents, err := w.readDir(ctx, at, c, nd)
	if err != nil {
		return nil, err
	}
	mode := uint32(0o755)
	if nd.HasMode {
		mode = nd.Mode
	}
	s := &tree.Source{Entry: schema.Entry{Name: name, Kind: schema.KindDirectory, Mode: mode, Mtime: nd.Mtime}}
	for i, e := range ents {
		if i%prefetchWindow == 0 {
			w.prefetch(ctx, ents[i:min(i+prefetchWindow, len(ents))])
		}
		child, err := w.source(ctx, at+"/"+e.Name, e.Name, e.CID, linkSize(e.Tsize), depth+1)
		if err != nil {
			return nil, err
		}
		if child != nil {
			s.Children = append(s.Children, child)
		}
	}
	return s, nil
}

// prefetchWindow is how many entries of a directory have their root
// blocks fetched at once: a daemon fetching from its peers answers each
// after a round trip, which the window overlaps.
const prefetchWindow = 32

// prefetch fetches, in parallel, the root blocks of the entries that
// stat will read (dag-pb roots not read yet) and keeps them for it, which
// takes each as it reads it: so at most a window per directory level is
// held. A failure is left for stat to meet and report.
func (w *ipfsWalk) prefetch(ctx context.Context, ents []unixfs.DirEntry) {
	var need []cid.Cid
	seen := map[cid.Cid]bool{}
	for _, e := range ents {
		if _, done := w.files[e.CID]; done || seen[e.CID] || e.CID.Type() != cid.DagProtobuf {
			continue
		}
		seen[e.CID] = true
		if _, inline := unixfs.Inline(e.CID); !inline {
			need = append(need, e.CID)
		}
	}
	if len(need) < 2 {
		return
	}
	blocks := make([][]byte, len(need))
	var wg sync.WaitGroup
	for i, c := range need {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocks[i], _ = w.st.Get(ctx, c)
		}()
	}
	wg.Wait()
	for i, c := range need {
		if blocks[i] != nil {
			w.fetched[c] = blocks[i]
		}
	}
}

// ipfsErr is err about the DAG c at the IPFS path at, naming c only
// where at does not: /ipfs/CID is named by its path alone.
func ipfsErr(at string, c cid.Cid, err error) error {
	var ae *acerr.Error
	if errors.As(err, &ae) && ae.CID == c.String() && strings.HasSuffix(at, "/"+c.String()) {
		err = &acerr.Error{Op: ae.Op, Path: ae.Path, Kind: ae.Kind, Err: ae.Err, Hint: ae.Hint}
	}
	return acerr.E("add", at, acerr.KindOf(err), err)
}

// linkSize is a directory link's Tsize as stat takes it.
func linkSize(tsize uint64) int64 {
	if tsize > schema.MaxBlockSize {
		return -1
	}
	return int64(tsize)
}
