package home

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
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
	// Command is the command line the home's record of collections
	// names (GCEstimate, Given); empty: "ac-gc".
	Command string
	// Progress, if set, counts how far the GC is: the blocks walked, as
	// files (their total once the walk is done), and then the bytes
	// copied of those to copy; its totals are final once the copy starts
	// (or the GC ends).
	Progress *progress.Counter
}

// KeepAll is the GCOptions.Keep that keeps every entry of the log.
const KeepAll = -1

// GCReport says what a GC kept and freed (or, with DryRun, would).
type GCReport struct {
	ipfsstore.Collected
	Entries     int     // entries in the log
	KeptEntries int     // entries whose trees were kept
	Roots       int     // distinct roots kept, HEAD's among them
	Head        cid.Cid // HEAD when the kept roots were read
	Given       int     // trees of log entries given back (would be, in a dry run)
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
// as a change waits for the lock (Options.LockTimeout).
//
// The log keeps its lines. Before it gives anything back, GC records in
// the home which roots of the log's entries it gives back, so
// that ac-log and ac-restore --at can say an entry's tree went and when
// (Given); once done (or in a dry run) it records what it would still
// free (GCEstimate), for ac-info to show without a walk.
func (h *Home) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	const op = "home.GC"
	col, ok := h.Store.(ipfsstore.Collector)
	if !ok {
		return GCReport{}, acerr.E(op, h.Dir, acerr.Invalid, errors.New("this store keeps no garbage to collect"))
	}
	if o.Command == "" {
		o.Command = "ac-gc"
	}
	var rep GCReport
	keep := ipfsstore.Keep{
		DryRun: o.DryRun,
		Wait:   h.wait,
		Roots: func(ctx context.Context) ([]cid.Cid, error) {
			// The store is held alone (but in a dry run): no change
			// comes between what is read here and the collection.
			roots, given, err := h.keptRoots(ctx, o, &rep)
			rep.Roots, rep.Given = len(roots), len(given)
			if err != nil || o.DryRun || len(given) == 0 {
				return roots, err
			}
			// Recorded ahead: a GC killed before it gave them back
			// leaves them held, and Given.Of looks at the store. Read
			// again here, since another GC may have run while this one
			// waited for the store.
			runs, err := h.gcRuns()
			if err != nil {
				return nil, err
			}
			runs = append(runs, GCRun{Time: h.now(), Command: o.Command, Roots: given})
			return roots, h.writeRecord(givenFile, runs)
		},
		Reach: func(ctx context.Context, roots []cid.Cid) (func(cid.Cid) bool, error) {
			return reach(ctx, h.Store, roots, o.Progress)
		},
	}
	if o.Progress != nil {
		var last int64
		started := false
		keep.Progress = func(done, total int64) {
			if !started {
				started = true
				o.Progress.AddTotal(0, total)
				o.Progress.Final()
			}
			o.Progress.Add(0, done-last)
			last = done
		}
	}
	c, err := col.Collect(ctx, keep)
	o.Progress.Final()
	rep.Collected = c
	if err != nil {
		return rep, acerr.E(op, h.Dir, acerr.KindOf(err), err)
	}
	if _, embedded := h.Store.(*ipfsstore.Embedded); embedded {
		// What a GC that keeps as much would free now: after one that
		// ran, nothing.
		freed := int64(0)
		if o.DryRun {
			freed = max(rep.Freed(), 0)
		}
		est := GCEstimate{Time: h.now(), Command: o.Command, Head: rep.Head, Reclaimable: freed}
		if err := h.writeRecord(gcFile, est); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// keptRoots returns HEAD and the roots of the log entries o keeps, each
// once, and the roots of the other entries that the store holds and no
// GC recorded yet (given back, if GC goes on), and counts the entries in
// rep.
func (h *Home) keptRoots(ctx context.Context, o GCOptions, rep *GCReport) (roots, given []cid.Cid, err error) {
	cur, err := h.Head.Get()
	if err != nil {
		return nil, nil, err
	}
	rep.Head = cur
	log, err := h.Head.Log()
	if err != nil {
		return nil, nil, err
	}
	rep.Entries = len(log)
	seen := map[cid.Cid]bool{}
	add := func(c cid.Cid) {
		if c.Defined() && !seen[c] {
			seen[c] = true
			roots = append(roots, c)
		}
	}
	add(cur)
	since := h.now().Add(-o.Within)
	kept := func(i int) bool {
		return o.Keep < 0 || i < o.Keep || o.Within > 0 && log[i].Time.After(since)
	}
	for i, e := range log { // newest first
		if kept(i) {
			rep.KeptEntries++
			add(e.Old)
			add(e.New)
		}
	}
	g, err := h.Given()
	if err != nil {
		return nil, nil, err
	}
	for i, e := range log {
		if kept(i) {
			continue
		}
		for _, c := range []cid.Cid{e.Old, e.New} {
			if !c.Defined() || seen[c] || g.by[c] != nil {
				continue
			}
			seen[c] = true // once
			held, err := h.Store.Has(ctx, c)
			if err != nil {
				return nil, nil, err
			}
			if held {
				given = append(given, c)
			}
		}
	}
	return roots, given, nil
}

// reach walks the DAGs under roots as far as store holds them and
// returns whether a block is among those walked. Blocks the store lacks
// (a friend's file contents not read yet, an identity never received)
// are not followed; a block that is held but fails to read or decode
// stops the walk, since what it links would be lost.
func reach(ctx context.Context, store ipfsstore.Store, roots []cid.Cid, counts *progress.Counter) (func(cid.Cid) bool, error) {
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
		n++
		counts.Add(1, 0)
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
	counts.AddTotal(n, 0)
	return seen.has, nil
}
