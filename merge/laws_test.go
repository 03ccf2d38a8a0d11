package merge_test

import (
	"errors"
	"fmt"
	"slices"
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
// merge each other's roots at random, with every operation by which a
// command changes a filesystem (root/):
//
//	ac-add FILE          Put (through PutTree, which puts a changed file)
//	ac-add DIR           PutTree with prune, over a directory that is
//	                     there, one that was deleted and one that never was
//	ac-delete            Delete, of a file or a directory
//	ac-mv                Move, of a file or a directory, as one batch
//	ac-cp                Copy, of a file or a directory, as one batch
//	ac-restore           PutTree without prune, from an earlier root
//	ac-merge, -merge-all Merge (the command then Puts the merged directory
//	                     at DEST, which is the root here)
//
// Commands that change the tree database outside root/ (ac-identity,
// ac-friend, ac-node, ac-init) are not drawn: those parts are never
// merged, each is only one replica's own record. Replica 0 belongs to alice, who
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
	t       *rapid.T
	st      ipfsstore.Store
	alice   *person
	mal     *forge.Forger
	forged  []forged // mallory's forgeries, made once
	trust   friends
	limits  tree.Config
	clk     *clock
	trees   []*tree.Tree
	merger  []*merge.Merger
	roots   []cid.Cid
	seen    []map[int]bool // per replica: the writes it has seen
	history [][]cid.Cid    // per replica: its roots, oldest first
	writes  []write        // every write, by id
	gone    map[int]bool   // writes that a later change saw and replaced or deleted
	seq     uint64         // alice's last seq for "own"
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
		w.history = append(w.history, nil)
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
// else's owned directory, a move onto a name that is taken or into
// itself.
func tolerated(err error) bool {
	for _, k := range []acerr.Kind{acerr.NotDir, acerr.IsDir, acerr.NotExist, acerr.Permission, acerr.Exist, acerr.Invalid} {
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
	switch op := rapid.IntRange(0, 13).Draw(t, "op"); {
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
	case op == 6: // move a file or a directory, as one batch (tree.Move)
		if rapid.Bool().Draw(t, "move whole dir") && dir != "" {
			path = dir
		}
		to := strings.TrimPrefix(rapid.SampledFrom(lawDirs).Draw(t, "to dir")+"/"+rapid.SampledFrom(lawNames).Draw(t, "to"), "/")
		old := w.roots[r]
		if c, err = tr.Move(ctx, old, path, to); err == nil {
			w.record(t, r, old, c, nil)
		}
	case op == 13: // copy a file or a directory, as ac-cp does (tree.Copy)
		if rapid.Bool().Draw(t, "copy whole dir") && dir != "" {
			path = dir
		}
		to := strings.TrimPrefix(rapid.SampledFrom(lawDirs).Draw(t, "copy to dir")+"/"+rapid.SampledFrom(lawNames).Draw(t, "copy to"), "/")
		old := w.roots[r]
		if c, err = tr.Copy(ctx, old, path, to); err == nil {
			w.record(t, r, old, c, nil)
		}
	case op == 7: // add a whole directory, as ac-add of a folder does
		c, err = w.putDir(t, r)
	case op == 8: // restore a file or a directory as it was, as ac-restore does
		c, err = w.restore(t, r)
	case op == 12: // mallory forges into a replica's root and hands it over
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
		if err != errSkip && !tolerated(err) {
			t.Fatalf("r%d %s: %v", r, path, err)
		}
		return
	}
	w.roots[r] = c
	w.history[r] = append(w.history[r], c)
	if r == 0 {
		w.noteSeq()
	}
}

// noteSeq keeps w.seq at the highest seq alice signed for "own", as her
// client would: its next version must come after every one she made,
// the empty one her deletion signed included, even where "own" has since
// been a shared directory (a copy or an add put there after she deleted
// it).
func (w *world) noteSeq() {
	entries, err := w.trees[0].ReadDir(ctx, w.roots[0])
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name != "own" {
			continue
		}
		for _, v := range e.Versions() {
			if !v.Owner.Defined() || !v.Target.Defined() {
				continue
			}
			if d, err := w.trees[0].ReadDirectory(ctx, v.Target); err == nil && d.Owned() {
				w.seq = max(w.seq, d.Seq)
			}
		}
	}
}

// errSkip says a step drew a change that cannot be made (a restore of
// something that was not there): nothing happens.
var errSkip = errors.New("skip")

// putDir has replica r add a folder over one of its directories (one
// that is there, one that was deleted, or one that never was), as ac-add
// does: the folder is what the directory shows, with some files kept as
// they are, some changed, some dropped, and new ones added.
func (w *world) putDir(t *rapid.T, r int) (cid.Cid, error) {
	dir := rapid.SampledFrom([]string{"a", "b", "a/c", "own/d", "e"}).Draw(t, "folder")
	if strings.HasPrefix(dir, "own/") {
		if r != 0 {
			return cid.Undef, errSkip
		}
		w.ensureOwned()
	}
	tr := w.trees[r]
	old := w.roots[r]
	src, err := tr.SourceOf(ctx, old, dir)
	if err != nil {
		src = &tree.Source{Entry: schema.Entry{Name: dir[strings.LastIndexByte(dir, '/')+1:], Kind: schema.KindDirectory, Mode: 0o755}}
	}
	if src.Entry.Kind != schema.KindDirectory {
		return cid.Undef, errSkip
	}
	fresh := map[cid.Cid]bool{}
	w.mutate(t, src, dir, r, fresh, 0)
	c, err := tr.PutTree(ctx, old, dir, src, true)
	if err == nil {
		w.record(t, r, old, c, fresh)
	}
	return c, err
}

// mutate changes the folder src (at path) at random: each file is kept,
// changed or dropped, a subdirectory kept, changed or dropped, and new
// files come. Changed and new files are fresh writes.
func (w *world) mutate(t *rapid.T, src *tree.Source, path string, r int, fresh map[cid.Cid]bool, depth int) {
	var kept []*tree.Source
	for _, c := range src.Children {
		p := path + "/" + c.Entry.Name
		switch rapid.IntRange(0, 3).Draw(t, "folder entry") {
		case 0: // dropped
			continue
		case 1: // changed
			if c.Entry.Kind == schema.KindDirectory {
				w.mutate(t, c, p, r, fresh, depth+1)
			} else {
				c.Entry = w.freshFile(t, p, r, fresh)
			}
		}
		kept = append(kept, c)
	}
	src.Children = kept
	for range rapid.IntRange(0, 2).Draw(t, "new in folder") {
		name := rapid.SampledFrom(lawNames).Draw(t, "new name")
		if slices.ContainsFunc(src.Children, func(c *tree.Source) bool { return c.Entry.Name == name }) {
			continue
		}
		if depth == 0 && rapid.IntRange(0, 4).Draw(t, "new subfolder") == 0 {
			sub := &tree.Source{Entry: schema.Entry{Name: name, Kind: schema.KindDirectory, Mode: 0o750}}
			w.mutate(t, sub, path+"/"+name, r, fresh, depth+1)
			src.Children = append(src.Children, sub)
			continue
		}
		src.Children = append(src.Children, &tree.Source{Entry: w.freshFile(t, path+"/"+name, r, fresh)})
	}
}

func (w *world) freshFile(t *rapid.T, path string, r int, fresh map[cid.Cid]bool) schema.Entry {
	e := fileEntry(t, w.st, fmt.Sprintf("folder write %d at %s by r%d", len(fresh)+len(w.writes)*1000, path, r))
	e.Name, e.Mtime = path[strings.LastIndexByte(path, '/')+1:], w.clk.now().UnixNano()
	fresh[e.Target] = true
	return e
}

// restore has replica r put back a file or directory as one of its
// earlier roots had it, as ac-restore does.
func (w *world) restore(t *rapid.T, r int) (cid.Cid, error) {
	if len(w.history[r]) == 0 {
		return cid.Undef, errSkip
	}
	then := w.history[r][rapid.IntRange(0, len(w.history[r])-1).Draw(t, "restore from")]
	path := rapid.SampledFrom(append(lawDirs[1:], "a/x", "b/y", "a/c/z.txt", "x", "own/d/w")).Draw(t, "restore path")
	tr := w.trees[r]
	src, err := tr.SourceOf(ctx, then, path)
	if err != nil {
		return cid.Undef, errSkip // not there then
	}
	old := w.roots[r]
	c, err := tr.PutTree(ctx, old, path, src, false)
	if err == nil {
		w.record(t, r, old, c, nil)
	}
	return c, err
}

// record notes what replica r's change from old to new did, as a
// listing shows it: what it replaced or deleted is superseded, what it
// added or changed that is a fresh write is a write r has seen.
func (w *world) record(t *rapid.T, r int, old, new cid.Cid, fresh map[cid.Cid]bool) {
	tr := w.trees[r]
	note := func(path string, e schema.Entry) {
		if e.Kind == schema.KindFile && fresh[e.Target] {
			w.seen[r][len(w.writes)] = true
			w.writes = append(w.writes, write{path, e.Target})
		}
	}
	err := tr.Changes(ctx, old, new, func(ch tree.Change) error {
		if ch.What != tree.Added {
			w.supersede(r, ch.Path)
			// A conflict copy made a file of its own carries its write
			// under another name: what replaced that file replaced it.
			for id := range w.seen[r] {
				if ch.Old.Kind == schema.KindFile && w.writes[id].content == ch.Old.Target {
					w.gone[id] = true
				}
			}
		}
		note(ch.Path, ch.New)
		if ch.New.Kind == schema.KindDirectory && !ch.New.Deleted {
			return tr.Walk(ctx, new, ch.Path, func(p string, e schema.Entry) error { note(p, e); return nil })
		}
		return nil
	})
	if err != nil {
		t.Fatalf("changes of r%d: %v", r, err)
	}
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
// lost but by a change that saw it. The "tree" case uses targets so
// small that most directories are trees of several nodes.
func TestMergeLaws(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits tree.Config
	}{
		{"inline", tree.Config{}},
		{"tree", tree.Config{LeafTarget: 200, InnerTarget: 150}},
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
