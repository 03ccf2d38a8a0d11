package home

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/ipfs/go-cid"
)

// GCOptions says which history entries a GC keeps. The zero value keeps
// none but HEAD; KeepAll keeps every entry.
type GCOptions struct {
	// Keep keeps the trees before the Keep newest log entries (what
	// ac-restore --at 1 … Keep takes); negative: every entry.
	Keep int
	// Within also keeps the trees of the entries made within this long
	// before now.
	Within time.Duration
	// DryRun only says what the GC would free.
	DryRun bool
	// Progress, if set, is told how far the GC is: the blocks walked, and
	// then the bytes copied of those to copy.
	Progress func(phase string, done, total int64)
}

// KeepAll is the GCOptions.Keep that keeps every entry of the log.
const KeepAll = -1

// GCReport says what a GC kept and freed (or, with DryRun, would).
type GCReport struct {
	ipfsstore.Collected
	Entries     int // entries in the log
	KeptEntries int // entries whose trees were kept
	Roots       int // distinct roots kept, HEAD's among them
}

// GC keeps HEAD and the history entries o names, with everything they
// reach (the tree database: my filesystem, identities, friends, their
// nodes and whatever of their trees the store holds), and gives back the
// space of every other block: in the embedded store the packs are
// rewritten without them (ipfsstore.Embedded.Collect); with kubo the
// roots the daemon keeps for this home become the kept ones, and the
// daemon's garbage collector frees the rest. What the kept roots and the
// walk see is read once the store is held alone, so no change comes
// between; GC waits for other processes to close the store for as long
// as a change waits for the lock (Options.LockTimeout). The log keeps its lines: an entry whose tree was given back
// lists as before, and ac-restore --at it finds the tree gone.
func (h *Home) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	const op = "home.GC"
	col, ok := h.Store.(ipfsstore.Collector)
	if !ok {
		return GCReport{}, acerr.E(op, h.Dir, acerr.Invalid, errors.New("this store keeps no garbage to collect"))
	}
	var rep GCReport
	keep := ipfsstore.Keep{
		DryRun: o.DryRun,
		Wait:   h.wait,
		Roots: func(ctx context.Context) ([]cid.Cid, error) {
			roots, err := h.keptRoots(o, &rep)
			rep.Roots = len(roots)
			return roots, err
		},
		Reach: func(ctx context.Context, roots []cid.Cid) (func(cid.Cid) bool, error) {
			return reach(ctx, h.Store, roots, o.Progress)
		},
	}
	if o.Progress != nil {
		keep.Progress = func(done, total int64) { o.Progress("copy", done, total) }
	}
	c, err := col.Collect(ctx, keep)
	rep.Collected = c
	if err != nil {
		return rep, acerr.E(op, h.Dir, acerr.KindOf(err), err)
	}
	return rep, nil
}

// keptRoots returns HEAD and the roots of the log entries o keeps, each
// once, and counts the entries in rep.
func (h *Home) keptRoots(o GCOptions, rep *GCReport) ([]cid.Cid, error) {
	cur, err := h.Head.Get()
	if err != nil {
		return nil, err
	}
	log, err := h.Head.Log()
	if err != nil {
		return nil, err
	}
	rep.Entries = len(log)
	seen := map[cid.Cid]bool{}
	var roots []cid.Cid
	add := func(c cid.Cid) {
		if c.Defined() && !seen[c] {
			seen[c] = true
			roots = append(roots, c)
		}
	}
	add(cur)
	since := h.now().Add(-o.Within)
	for i, e := range log { // newest first
		if o.Keep < 0 || i < o.Keep || o.Within > 0 && e.Time.After(since) {
			rep.KeptEntries++
			add(e.Old)
			add(e.New)
		}
	}
	return roots, nil
}

// reach walks the DAGs under roots as far as store holds them and
// returns whether a block is among those walked. Blocks the store lacks
// (a friend's file contents not read yet, an identity never received)
// are not followed; a block that is held but fails to read or decode
// stops the walk, since what it links would be lost.
func reach(ctx context.Context, store ipfsstore.Store, roots []cid.Cid, progress func(string, int64, int64)) (func(cid.Cid) bool, error) {
	seen := newBlockSet()
	stack := make([]dagLink, 0, len(roots))
	for _, r := range roots {
		stack = append(stack, dagLink{c: r})
	}
	var n int64
	for len(stack) > 0 {
		l := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen.has(l.c) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		held, err := store.Has(ctx, l.c)
		if err != nil {
			return nil, err
		}
		if !held {
			continue
		}
		seen.add(l.c)
		if n++; progress != nil && n%1024 == 0 {
			progress("walk", n, 0)
		}
		if l.c.Type() == cid.Raw {
			continue // a file's leaf: no links
		}
		data, err := store.Get(ctx, l.c)
		if err != nil {
			return nil, fmt.Errorf("reading what the kept trees reach: %w", err)
		}
		links, err := blockLinks(l, data)
		if err != nil {
			return nil, fmt.Errorf("reading what the kept trees reach: %w", err)
		}
		for _, x := range links {
			if !seen.has(x.c) {
				stack = append(stack, x)
			}
		}
	}
	if progress != nil {
		progress("walk", n, n)
	}
	return seen.has, nil
}
