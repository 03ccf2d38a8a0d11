package dirbench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-varint"
)

// Layouts are the layouts measured, today's first.
func Layouts() []Layout {
	return []Layout{
		Trie{Bits: 8, LeafLimit: 256 << 10},
		Trie{Bits: 8, LeafLimit: 4 << 10},
		Trie{Bits: 4, LeafLimit: 4 << 10},
		Prolly{Codec: Today{}, Target: 4 << 10},
		Prolly{Codec: Today{}, Target: 2 << 10, Inner: 1 << 10},
		Prolly{Codec: Compact{}, Target: 4 << 10},
		Prolly{Codec: Compact{}, Target: 2 << 10, Inner: 1 << 10},
		Prolly{Codec: Compact{}, Target: 1 << 10},
		Prolly{Codec: Compact{}, Target: 1 << 10, Inner: 512},
	}
}

// Cost is a number of blocks and their bytes.
type Cost struct{ Nodes, Bytes float64 }

func (c Cost) String() string { return fmt.Sprintf("%s (%.1f)", size(int(c.Bytes)), c.Nodes) }

// plus adds d/trials to c: the mean over trials.
func (c Cost) plus(d Cost, trials int) Cost {
	return Cost{c.Nodes + d.Nodes/float64(trials), c.Bytes + d.Bytes/float64(trials)}
}

// Result is what Measure finds for one layout and directory size.
type Result struct {
	Layout  string
	N       int
	Tree    Cost // every node
	Depth   int  // levels
	MaxNode int
	// The nodes a change writes: adding a file, changing one, deleting
	// one (a tombstone, as tree.Delete makes), and changing 10 at random.
	Add, Change, Delete, Change10 Cost
	Lookup                        Cost    // mean read by a lookup
	Diff10                        int     // nodes read, both sides, to diff versions 10 entries apart
	Build                         float64 // seconds to build from the entries
}

// Measure builds a directory of n entries from seed (files, or
// directories if dirs) in layout l and measures it.
func Measure(ctx context.Context, l Layout, n int, dirs bool, seed uint64) (Result, error) {
	r := Result{Layout: l.Name(), N: n}
	b := ipfsstore.NewMemory()
	defer b.Close()
	s := NewSample(seed)
	entries := s.Files(n)
	if dirs {
		entries = s.Dirs(n)
	}
	start := time.Now()
	root, err := l.Build(ctx, b, entries)
	if err != nil {
		return r, err
	}
	r.Build = time.Since(start).Seconds()
	old := map[cid.Cid]bool{}
	if err := l.Walk(ctx, b, root, func(c cid.Cid, size, depth int) bool {
		old[c] = true
		r.Tree.Nodes++
		r.Tree.Bytes += float64(size)
		r.MaxNode = max(r.MaxNode, size)
		r.Depth = max(r.Depth, depth+1)
		return true
	}); err != nil {
		return r, err
	}

	// written returns the nodes of the tree of es that the tree at root
	// lacks: what a change from one to the other writes, and what a CAR
	// of it --since the old root carries.
	written := func(es []schema.Entry) (Cost, cid.Cid, error) {
		c, err := l.Build(ctx, b, es)
		if err != nil {
			return Cost{}, c, err
		}
		var w Cost
		err = l.Walk(ctx, b, c, func(c cid.Cid, size, _ int) bool {
			if old[c] {
				return false
			}
			w.Nodes++
			w.Bytes += float64(size)
			return true
		})
		return w, c, err
	}
	changed := func(k int, change func(schema.Entry) schema.Entry) []schema.Entry {
		es := slices.Clone(entries)
		for _, i := range s.Perm(n)[:k] {
			es[i] = change(es[i])
		}
		return es
	}
	// One change costs what the leaf it lands in and the path above it
	// cost, so single changes are averaged over trials.
	trials := 20
	if n > 100_000 {
		trials = 5
	}
	for range trials {
		w, _, err := written(append(slices.Clone(entries), s.File(fmt.Sprintf("f%07d.new", s.Perm(n)[0]))))
		if err != nil {
			return r, err
		}
		r.Add = r.Add.plus(w, trials)
		es := changed(1, s.Change)
		w, one, err := written(es)
		if err != nil {
			return r, err
		}
		r.Change = r.Change.plus(w, trials)
		if p, ok := l.(Prolly); ok { // the incremental change must give the same tree
			for i := range es {
				if !schema.SameEntry(&es[i], &entries[i]) {
					if c, err := p.Set(ctx, b, root, es[i]); err != nil || !c.Equals(one) {
						return r, fmt.Errorf("%s: Set gives %s, %v; a build gives %s", l.Name(), c, err, one)
					}
				}
			}
		}
		if w, _, err = written(changed(1, s.Tombstone)); err != nil {
			return r, err
		}
		r.Delete = r.Delete.plus(w, trials)
	}
	var ten cid.Cid
	if r.Change10, ten, err = written(changed(10, s.Change)); err != nil {
		return r, err
	}

	counted := &Counted{Blocks: b}
	if d, err := l.Diff(ctx, counted, root, ten); err != nil || d != 10 {
		return r, fmt.Errorf("%s: Diff finds %d changes, %v; want 10", l.Name(), d, err)
	}
	r.Diff10 = counted.Reads

	const lookups = 100
	counted = &Counted{Blocks: b}
	for _, i := range s.Perm(n)[:min(n, lookups)] {
		if _, ok, err := l.Lookup(ctx, counted, root, entries[i].Name); err != nil || !ok {
			return r, fmt.Errorf("%s: Lookup(%q) = %v, %v", l.Name(), entries[i].Name, ok, err)
		}
	}
	r.Lookup = Cost{float64(counted.Reads) / float64(min(n, lookups)), float64(counted.ReadBytes) / float64(min(n, lookups))}
	return r, nil
}

// CAR is the estimated size of an `ac-export --since` CAR for the issue's
// case: files changed in separate 1,000-entry directories, under a
// directory of 1,000 directories, three small directories and the node.
type CAR struct {
	Layout                       string
	TenFiles, OneFile, AddTo500k int
}

// carBlock is the bytes a block of size bytes takes in a CAR: a varint
// length, a 36-byte CIDv1 with sha2-256, the data.
func carBlock(size int) int { return varint.UvarintSize(uint64(36+size)) + 36 + size }

// carHeader is a CARv1 header with one root: {"roots": [cid], "version": 1}.
const carHeader = 1 + 58

// EstimateCAR puts together the --since CAR of k changed files (k = 10
// and 1) from measured parts: files and dirs are the layout's results for
// a 1,000-entry directory of files and one of directories, big its
// result for 500,000 files.
func EstimateCAR(files, dirs, big Result, codec Codec, s *Sample) CAR {
	// the directory_v1 block linking the new root of a large directory
	wrapper := len(schema.Encode(&schema.Directory{Shard: s.cid(cid.DagCBOR)}))
	// The three small directories above, one block each (a leaf and a
	// policy field: inline, as small directories are today), and the
	// signed node.
	var fixed int
	for _, k := range []int{5, 2, 1} {
		fixed += carBlock(len(codec.EncodeLeaf(s.Dirs(k))) + len(`policy`) + len(schema.KindDirectory) + 2)
	}
	fixed += carBlock(len(schema.Encode(&schema.Node{Owner: s.ids[0], Seq: 7, Prev: s.cid(cid.DagCBOR),
		Root: s.cid(cid.DagCBOR), Created: 1767225600, Sig: make([]byte, schema.SigSize)})))
	spread := func(c Cost) int { // a change's nodes, each block counted with its CAR overhead
		if c.Nodes == 0 {
			return 0
		}
		return int(c.Nodes*float64(carBlock(int(c.Bytes/c.Nodes)))) + carBlock(wrapper)
	}
	const file = 100 // a file of 1 to 200 bytes is one raw block
	return CAR{
		Layout:    files.Layout,
		TenFiles:  carHeader + fixed + 10*carBlock(file) + 10*spread(files.Change) + spread(dirs.Change10),
		OneFile:   carHeader + fixed + carBlock(file) + spread(files.Change) + spread(dirs.Change),
		AddTo500k: int(big.Add.Bytes) + wrapper,
	}
}

// Run measures every layout at the given sizes and writes the tables of
// docs/DIRNODES.md to w.
func Run(ctx context.Context, w io.Writer, sizes []int, seed uint64, progress io.Writer) error {
	for _, kind := range []struct {
		title   string
		entries []schema.Entry
	}{{"file entries", NewSample(seed).Files(1000)}, {"directory entries", NewSample(seed).Dirs(1000)}} {
		rows, err := Fields(kind.entries, 40) // about the entries of a 4 KiB compact leaf
		if err != nil {
			return err
		}
		writeFields(w, "Bytes per field, mean of 1,000 "+kind.title, rows)
	}
	results := map[string]map[int]Result{}
	var cars []CAR
	for _, l := range Layouts() {
		results[l.Name()] = map[int]Result{}
		for _, n := range sizes {
			fmt.Fprintf(progress, "%s, %d entries\n", l.Name(), n)
			r, err := Measure(ctx, l, n, false, seed)
			if err != nil {
				return err
			}
			results[l.Name()][n] = r
		}
		files, ok1 := results[l.Name()][1000]
		big, ok2 := results[l.Name()][500000]
		if ok1 && ok2 {
			dirs, err := Measure(ctx, l, 1000, true, seed+1)
			if err != nil {
				return err
			}
			codec := Codec(Today{})
			if p, ok := l.(Prolly); ok {
				codec = p.Codec
			}
			cars = append(cars, EstimateCAR(files, dirs, big, codec, NewSample(seed+2)))
		}
	}
	for _, n := range sizes {
		fmt.Fprintf(w, "\n### %d entries\n\n", n)
		fmt.Fprintln(w, "| layout | nodes | levels | all nodes | largest | add one | change one | delete one | change 10 | lookup reads | diff of 10: nodes read | build |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, l := range Layouts() {
			r := results[l.Name()][n]
			fmt.Fprintf(w, "| %s | %.0f | %d | %s | %s | %s | %s | %s | %s | %s | %d | %.2f s |\n", r.Layout, r.Tree.Nodes, r.Depth,
				size(int(r.Tree.Bytes)), size(r.MaxNode), r.Add, r.Change, r.Delete, r.Change10, r.Lookup, r.Diff10, r.Build)
		}
	}
	if len(cars) > 0 {
		fmt.Fprintln(w, "\n### The issue's targets")
		fmt.Fprintln(w, "\n| layout | --since CAR, 10 files (< 100 KB) | --since CAR, 1 file (< 10 KB) | add one file to 500k (< 16 KB) |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, c := range cars {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.Layout, met(c.TenFiles, 100_000), met(c.OneFile, 10_000), met(c.AddTo500k, 16_000))
		}
	}
	return nil
}

func met(n, limit int) string {
	if n < limit {
		return fmt.Sprintf("%s ✓", size(n))
	}
	return fmt.Sprintf("%s ✗", size(n))
}

// size writes bytes as the issue does: B below 10 kB, then kB and MB.
func size(n int) string {
	switch {
	case n < 10_000:
		return fmt.Sprintf("%d B", n)
	case n < 10_000_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
