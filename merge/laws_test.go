package merge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/internal/forge"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
	"pgregory.net/rapid"
)

// The random histories: three replicas of one shared tree change it and
// merge each other's roots at random. Replica 0 belongs to alice, who
// owns the directory "own" (the others cannot change it); all three
// trust her, and mallory, a hostile friend who now and then takes a
// replica's root, forges something into it (a case of package forge, at
// a random place) and hands it to a replica: every such merge must be
// refused, and every merge that succeeds must leave a tree that checks.

var (
	lawDirs  = []string{"", "a", "b", "a/c", "own", "own/d"}
	lawNames = []string{"x", "y", "z.txt", "w", "v", "u"}
)

// world is one history in progress.
type world struct {
	t      *rapid.T
	st     ipfsstore.Store
	alice  *person
	mal    *forge.Forger
	forged []forged // mallory's forgeries, made once
	trust  friends
	limits tree.Config
	clk    *clock
	trees  []*tree.Tree
	merger []*merge.Merger
	roots  []cid.Cid
	seen   []map[int]bool // per replica: the writes it has seen
	writes []write        // every write, by id
	gone   map[int]bool   // writes that a later change saw and replaced or deleted
	seq    uint64         // alice's last seq for "own"
}

type write struct {
	path    string
	content cid.Cid
}

func newWorld(t *rapid.T, st ipfsstore.Store, alice *person, mal *forge.Forger, trust friends, limits tree.Config) *world {
	w := &world{t: t, st: st, alice: alice, mal: mal, trust: trust, limits: limits, clk: &clock{}, gone: map[int]bool{}}
	res := trust
	empty, err := tree.New(st, limits).MakeDir(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		cfg := limits
		cfg.Replica, cfg.Now = fmt.Sprintf("r%d", i), w.clk.now
		mc := merge.Config{Resolver: res, Tree: limits}
		if i == 0 {
			cfg.Signer, cfg.By = alice, alice.cid
			mc.Signer = alice
		}
		w.trees = append(w.trees, tree.New(st, cfg))
		w.merger = append(w.merger, newMerger(st, mc))
		w.roots = append(w.roots, empty)
		w.seen = append(w.seen, map[int]bool{})
	}
	return w
}

// supersede marks as gone every write replica r has seen at path or
// below it.
func (w *world) supersede(r int, path string) {
	for id := range w.seen[r] {
		p := w.writes[id].path
		if p == path || strings.HasPrefix(p, path+"/") {
			w.gone[id] = true
		}
	}
}

// tolerated reports whether a change failed for a reason a user can
// meet: a file where a directory is wanted, a missing path, someone
// else's owned directory.
func tolerated(err error) bool {
	for _, k := range []acerr.Kind{acerr.NotDir, acerr.IsDir, acerr.NotExist, acerr.Permission} {
		if acerr.Is(k, err) {
			return true
		}
	}
	return false
}

func (w *world) step(t *rapid.T) {
	r := rapid.IntRange(0, 2).Draw(t, "replica")
	dir := rapid.SampledFrom(lawDirs).Draw(t, "dir")
	name := rapid.SampledFrom(lawNames).Draw(t, "name")
	path := strings.TrimPrefix(dir+"/"+name, "/")
	tr := w.trees[r]
	var c cid.Cid
	var err error
	switch op := rapid.IntRange(0, 10).Draw(t, "op"); {
	case op <= 3: // write a file
		if strings.HasPrefix(path, "own") && r != 0 {
			return
		}
		if strings.HasPrefix(path, "own/") {
			w.ensureOwned()
		}
		e := fileEntry(t, w.st, fmt.Sprintf("write %d at %s by r%d", len(w.writes), path, r))
		if c, err = tr.Put(ctx, w.roots[r], path, e); err == nil {
			w.supersede(r, path)
			w.seen[r][len(w.writes)] = true
			w.writes = append(w.writes, write{path, e.Target})
		}
	case op <= 5: // delete a file or a directory
		if rapid.Bool().Draw(t, "whole dir") && dir != "" {
			path = dir
		}
		if c, err = tr.Delete(ctx, w.roots[r], path); err == nil {
			w.supersede(r, path)
		}
	case op == 6: // rename a file
		to := strings.TrimPrefix(rapid.SampledFrom(lawDirs).Draw(t, "to dir")+"/"+rapid.SampledFrom(lawNames).Draw(t, "to"), "/")
		e, lerr := tr.Lookup(ctx, w.roots[r], path)
		if lerr != nil || e.Kind != schema.KindFile || to == path {
			return
		}
		if c, err = tr.Put(ctx, w.roots[r], to, e); err == nil {
			if c, err = tr.Delete(ctx, c, path); err == nil {
				w.supersede(r, path)
				w.supersede(r, to)
				w.seen[r][len(w.writes)] = true
				w.writes = append(w.writes, write{to, e.Target})
			}
		}
	case op == 10: // mallory forges into a replica's root and hands it over
		w.hostile(t, r)
		return
	default: // merge another replica's root
		from := rapid.IntRange(0, 2).Draw(t, "from")
		c, _, err = w.merger[r].Merge(ctx, w.roots[r], w.roots[from])
		if err != nil {
			t.Fatalf("r%d merging r%d: %v", r, from, err)
		}
		checkTree(t, w.st, w.trust, w.limits, c)
		for id := range w.seen[from] {
			w.seen[r][id] = true
		}
	}
	if err != nil {
		if !tolerated(err) {
			t.Fatalf("r%d %s: %v", r, path, err)
		}
		return
	}
	w.roots[r] = c
}

// hostile has mallory take a replica's root, place a forged case in one
// of its shared directories, and hand it to replica r, whose merge must
// refuse it with one line of the case's kind.
func (w *world) hostile(t *rapid.T, r int) {
	f := w.forged[rapid.IntRange(0, len(w.forged)-1).Draw(t, "forged case")]
	c, e := f.c, f.e
	from := rapid.IntRange(0, 2).Draw(t, "forged from")
	dir := rapid.SampledFrom([]string{"", "a", "b", "a/c", "new", "a/new"}).Draw(t, "forged in")
	forged, err := w.mal.Place(ctx, w.roots[from], dir, e)
	if err != nil {
		return // a file where the path wants a directory
	}
	got, _, err := w.merger[r].Merge(ctx, w.roots[r], forged)
	if err == nil {
		t.Fatalf("r%d merged %s forged into r%d's %q: %s", r, c.Name, from, dir, got)
	}
	if !acerr.Is(c.Want, err) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("r%d refused %s forged into r%d's %q with %v, want one line of kind %q", r, c.Name, from, dir, err, c.Want)
	}
}

// forged is a case of package forge and the entry it made.
type forged struct {
	c forge.Case
	e schema.Entry
}

// forgeAll makes every case of package forge once.
func forgeAll(t *testing.T, f *forge.Forger) []forged {
	var out []forged
	for _, c := range forge.Cases() {
		e, err := c.Entry(ctx, f)
		if err != nil {
			t.Fatalf("forging %s: %v", c.Name, err)
		}
		out = append(out, forged{c, e})
	}
	return out
}

// ensureOwned gives alice's replica the owned directory "own" if it has
// none, continuing the seq of a deleted one.
func (w *world) ensureOwned() {
	tr := w.trees[0]
	if _, err := tr.Lookup(ctx, w.roots[0], "own"); err == nil {
		return
	}
	prev := cid.Undef
	if entries, err := tr.ReadDir(ctx, w.roots[0]); err == nil {
		for _, e := range entries {
			if e.Name == "own" && e.Deleted && e.Target.Defined() {
				prev = e.Target
			}
		}
	}
	if prev.Defined() {
		d, err := tr.ReadDirectory(ctx, prev)
		if err == nil && d.Owned() {
			w.seq = max(w.seq, d.Seq)
		}
	}
	w.seq++
	c := ownedDir(w.t, w.st, w.alice, w.seq, prev)
	root, err := tr.Put(ctx, w.roots[0], "own", schema.Entry{Kind: schema.KindDirectory, Target: c})
	if err != nil {
		w.t.Fatalf("making own: %v", err)
	}
	w.roots[0] = root
}

// contents returns every file target a walk of root shows, conflict
// copies included.
func contents(t *rapid.T, tr *tree.Tree, root cid.Cid) map[cid.Cid]bool {
	out := map[cid.Cid]bool{}
	err := tr.Walk(ctx, root, "", func(_ string, e schema.Entry) error {
		if e.Kind == schema.KindFile {
			out[e.Target] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return out
}

// TestMergeLaws checks, on random histories, that merge is commutative,
// associative and idempotent to the root CID, and that nothing written is
// lost but by a change that saw it. The sharded case uses limits so small
// that most directories are shard tries.
func TestMergeLaws(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits tree.Config
	}{
		{"inline", tree.Config{}},
		{"sharded", tree.Config{InlineLimit: 200, LeafLimit: 300}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLaws(t, tc.limits) })
	}
}

func checkLaws(t *testing.T, limits tree.Config) {
	st := ipfsstore.NewMemory()
	alice, mallory := newPerson(t, st, "alice"), newPerson(t, st, "mallory")
	trust := trusting(alice, mallory)
	mal := &forge.Forger{Store: st, ID: mallory.cid, Key: mallory.priv, Victim: alice.cid, Replica: "mallory", Mtime: 1767225600e9, Limits: limits}
	plain := newMerger(st, merge.Config{Resolver: trust, Tree: limits})
	all := forgeAll(t, mal)
	rapid.Check(t, func(t *rapid.T) {
		w := newWorld(t, st, alice, mal, trust, limits)
		w.forged = all
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for range steps {
			w.step(t)
		}
		r := w.roots
		m := func(a, b cid.Cid) cid.Cid {
			c, _, err := plain.Merge(ctx, a, b)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			return c
		}
		for i := range r {
			if got := m(r[i], r[i]); got != r[i] {
				t.Fatalf("merge(r%d, r%d) = %s, want r%d = %s", i, i, got, i, r[i])
			}
			for j := range r {
				if ab, ba := m(r[i], r[j]), m(r[j], r[i]); ab != ba {
					t.Fatalf("merge(r%d, r%d) = %s but merge(r%d, r%d) = %s", i, j, ab, j, i, ba)
				}
			}
		}
		left := m(m(r[0], r[1]), r[2])
		right := m(r[0], m(r[1], r[2]))
		other := m(m(r[0], r[2]), r[1])
		if left != right || left != other {
			t.Fatalf("merge not associative: ((0,1),2) = %s, (0,(1,2)) = %s, ((0,2),1) = %s", left, right, other)
		}
		for i := range r {
			if again := m(left, r[i]); again != left {
				t.Fatalf("merging r%d into the merge of all changes it: %s, want %s", i, again, left)
			}
		}
		// Nothing any replica wrote is lost, but for what a replica that
		// had seen it replaced or deleted.
		have := contents(t, w.trees[1], left)
		for id, wr := range w.writes {
			if !w.gone[id] && !have[wr.content] {
				t.Fatalf("write %d (%s) is not in the merged tree", id, wr.path)
			}
		}
	})
}
