package merge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// nodeCache is how many decoded directory and tree nodes a Merger keeps:
// a merge reads the nodes on the paths to the differences several times.
const nodeCache = 4096

// MaxDepth is how deeply nested directories a merge follows.
const MaxDepth = tree.MaxDepth

// Signer signs new versions of owned directories whose keys it holds.
type Signer interface {
	tree.Signer
	// Holds reports whether SignDirectory can sign for owner.
	Holds(owner cid.Cid) bool
}

// Config is what a Merger needs. The zero value of each field is
// documented on it.
type Config struct {
	// Store holds the blocks of both trees; the merged blocks are
	// written to it. Required.
	Store ipfsstore.Store
	// Tree gives the directory limits, which must be those the trees were
	// built with. Its Replica, By, Now and Signer are not used.
	Tree tree.Config
	// Resolver names the identities whose owned directories count: mine
	// and my friends'. Nil refuses every owned directory that the merge
	// reads from the incoming tree.
	Resolver policy.Resolver
	// Signer re-signs my own owned directories when two replicas of one
	// diverged. Nil: none are mine, and a diverged owned directory keeps
	// its higher version.
	Signer Signer
}

// Fork reports two versions of one owned directory with the same seq:
// its owner signed both. The smaller CID was kept.
type Fork struct {
	Path    string
	Owner   cid.Cid
	Seq     uint64
	Kept    cid.Cid
	Dropped cid.Cid
}

// Kept reports a directory owned by Owner that a version without the
// owner's signature would have replaced or deleted: the merge kept it,
// beside that version.
type Kept struct {
	Path  string
	Owner cid.Cid
}

// Report says what a merge met that the merged tree does not show.
type Report struct {
	Forks []Fork
	Kept  []Kept
	// Checked is how many distinct blocks of the incoming tree, and of
	// mine where they differ, were read to check it.
	Checked int
}

// A Merger merges directory trees. It is safe for concurrent use; each
// Merge has its own state.
type Merger struct {
	cfg Config
	t   *tree.Tree
}

// New returns a Merger.
func New(cfg Config) *Merger {
	tc := cfg.Tree
	tc.Replica, tc.By, tc.Signer = "", cid.Undef, nil
	tc.NodeCache = nodeCache
	return &Merger{cfg: cfg, t: tree.New(cfg.Store, tc)}
}

// Merge returns the directory that merges held, the directory I hold,
// with in, a directory from outside, and a report of what it met. Both must be
// shared directories, or owned by the same identity, and filesystems
// (directories and files).
//
// Before anything of in is used, every block of it that held does not
// hold at the same place is checked (tree.Check under policy.Rules):
// present, hash-checked, decoded strictly, canonical, no deeper than
// MaxDepth, owned directories signed by their owners who are mine or
// friends, entries that say truly who owns what they link and, where a
// file's root block is held, how large it is. Each distinct block is
// checked once, so the cost is bounded by the distinct blocks of the
// difference, whatever the number of paths through them or the order of
// the CIDs. Input that fails is refused whole: Merge returns the error,
// naming the path and the block, and nothing it wrote is linked by any
// root.
//
// Nothing of held is ever read beyond the paths where in differs, and
// nothing of in beyond its directory blocks where it differs from held;
// file contents are not read, but for a file's root block where held.
//
// Merge is commutative, associative and idempotent to the CID for
// honest inputs (see the package documentation), with one exception: my
// own diverged owned directories, which are re-signed with a new seq.
// Input that breaks a policy makes Merge fail, naming the path, with
// nothing written that any root links.
func (m *Merger) Merge(ctx context.Context, held, in cid.Cid) (cid.Cid, *Report, error) {
	const op = "merge.Merge"
	st := &state{m: m, dirs: map[cid.Cid]*schema.Directory{}, merged: map[[2]cid.Cid]cid.Cid{}, report: &Report{}}
	if held.Equals(in) {
		return held, st.report, nil
	}
	k := m.t.NewCheck(policy.NewRules(policy.RulesConfig{Resolver: m.cfg.Resolver, Store: m.cfg.Store, Filesystem: true}))
	err := k.Dir(ctx, held, in)
	st.report.Checked = k.Blocks()
	if err != nil {
		return cid.Undef, st.report, acerr.E(op, "", acerr.KindOf(err), err)
	}
	if err := st.checkRoot(ctx, held, in); err != nil {
		return cid.Undef, nil, acerr.E(op, "", acerr.KindOf(err), err)
	}
	c, err := st.mergeDirs(ctx, "", held, in, 0)
	if err != nil {
		return cid.Undef, nil, wrap(op, err)
	}
	return c, st.report, nil
}

// wrap names op in err, unless err already names an op.
func wrap(op string, err error) error {
	var e *acerr.Error
	if errors.As(err, &e) && e.Op != "" {
		return err
	}
	return acerr.E(op, "", acerr.KindOf(err), err)
}

// state is one Merge in progress.
type state struct {
	m      *Merger
	dirs   map[cid.Cid]*schema.Directory // directory nodes read
	merged map[[2]cid.Cid]cid.Cid        // the merge of each pair of directories merged
	report *Report
}

// fail builds a merge error naming path.
func fail(path string, kind acerr.Kind, err error) error {
	if path == "" {
		path = "."
	}
	return acerr.E("merge", path, kind, err)
}

// read returns the directory node at c, which the Check has checked (or
// my tree holds).
func (st *state) read(ctx context.Context, path string, c cid.Cid) (*schema.Directory, error) {
	if d, ok := st.dirs[c]; ok {
		return d, nil
	}
	d, err := st.m.t.ReadDirectory(ctx, c)
	if err != nil {
		return nil, fail(path, acerr.KindOf(err), err)
	}
	st.dirs[c] = d
	return d, nil
}

func (st *state) checkRoot(ctx context.Context, held, in cid.Cid) error {
	dh, err := st.read(ctx, "", held)
	if err != nil {
		return err
	}
	di, err := st.read(ctx, "", in)
	if err != nil {
		return err
	}
	if !dh.Owner.Equals(di.Owner) {
		return fmt.Errorf("cannot merge a directory owned by %s with one owned by %s", owner(dh), owner(di))
	}
	return nil
}

func owner(d *schema.Directory) string {
	if !d.Owned() {
		return "nobody (shared)"
	}
	return policy.Short(d.Owner)
}

// mergeDirs merges two versions of one directory: both shared, or both
// owned by one owner. The merge of a pair is remembered: directories that
// share children (a DAG) merge in time bounded by their distinct pairs,
// not by their paths.
func (st *state) mergeDirs(ctx context.Context, path string, a, b cid.Cid, depth int) (cid.Cid, error) {
	if a.Equals(b) {
		return a, nil
	}
	if depth > MaxDepth {
		return cid.Undef, fail(path, acerr.TooLarge, fmt.Errorf("directories nested deeper than %d", MaxDepth))
	}
	if err := ctx.Err(); err != nil {
		return cid.Undef, err
	}
	pair := [2]cid.Cid{a, b}
	if c, ok := st.merged[pair]; ok {
		return c, nil
	}
	da, err := st.read(ctx, path, a)
	if err != nil {
		return cid.Undef, err
	}
	var c cid.Cid
	if da.Owned() {
		c, err = st.ownedTarget(ctx, path, da.Owner, []cid.Cid{a, b}, depth)
	} else {
		c, err = st.mergeShared(ctx, path, a, b, depth)
	}
	if err != nil {
		return cid.Undef, err
	}
	st.merged[pair] = c
	return c, nil
}

// mergeShared merges the entries of two shared directories, name by
// name, into a's directory.
func (st *state) mergeShared(ctx context.Context, path string, a, b cid.Cid, depth int) (cid.Cid, error) {
	set, err := st.mergeEntries(ctx, path, a, b, depth)
	if err != nil || len(set) == 0 {
		return a, err
	}
	return st.write(ctx, path, a, set, nil)
}

// mergeEntries returns the entries of a that merging b changes.
func (st *state) mergeEntries(ctx context.Context, path string, a, b cid.Cid, depth int) ([]schema.Entry, error) {
	var set []schema.Entry
	err := st.m.t.Diff(ctx, a, b, func(name string, ea, eb *schema.Entry) error {
		e, err := st.entry(ctx, tree.JoinPath(path, name), ea, eb, depth+1)
		if err != nil {
			return err
		}
		if ea == nil || !schema.SameEntry(&e, ea) {
			set = append(set, e)
		}
		return nil
	})
	return set, err
}

// write stores a's directory with the entries set; header, when not nil,
// gives its owner, seq and prev, and the result is signed.
func (st *state) write(ctx context.Context, path string, a cid.Cid, set []schema.Entry, header *schema.Directory) (cid.Cid, error) {
	d, err := st.m.t.WithEntries(ctx, a, set)
	if err != nil {
		return cid.Undef, fail(path, acerr.KindOf(err), err)
	}
	if header != nil {
		d.Owner, d.Seq, d.Prev = header.Owner, header.Seq, header.Prev
		if err := st.m.cfg.Signer.SignDirectory(ctx, d); err != nil {
			return cid.Undef, fail(path, acerr.KindOf(err), err)
		}
	}
	return st.m.t.PutDirectory(ctx, d)
}

// version is one version of a name with what the rules need to know of
// its target.
type version struct {
	schema.Entry
	shared bool   // a directory, live or deleted, whose target is shared
	seq    uint64 // for a directory whose target is owned (Owner): its seq
}

// classify reads what the rules need of v's target. The Check made sure
// that v's Owner is the owner of the directory it links, and that an
// owner's deletion links an empty version.
func (st *state) classify(ctx context.Context, path string, v schema.Entry) (version, error) {
	out := version{Entry: v}
	if v.Kind != schema.KindDirectory || !v.Target.Defined() {
		return out, nil
	}
	d, err := st.read(ctx, path, v.Target)
	if err != nil {
		return out, err
	}
	out.shared, out.seq = !d.Owned(), d.Seq
	return out, nil
}

// entry merges the entries of one name from both sides (nil: the side
// lacks the name). See the package documentation for the rules.
func (st *state) entry(ctx context.Context, path string, ea, eb *schema.Entry, depth int) (schema.Entry, error) {
	if ea == nil {
		return *eb, nil // only in the incoming tree: taken whole, as checked
	}
	if eb == nil {
		return *ea, nil
	}
	var all []version
	seen := map[string]bool{}
	for _, v := range append(ea.Versions(), eb.Versions()...) {
		key := string(schema.EncodeEntry(&v))
		if seen[key] {
			continue
		}
		seen[key] = true
		cv, err := st.classify(ctx, path, v)
		if err != nil {
			return schema.Entry{}, err
		}
		all = append(all, cv)
	}
	if err := st.checkOwned(path, all); err != nil {
		return schema.Entry{}, err
	}

	// The versions no other supersedes stay.
	vvs := make([]schema.Entry, len(all))
	for i := range all {
		vvs[i] = all[i].Entry
	}
	var kept []version
	for i, v := range all {
		if !schema.Superseded(vvs, i) {
			kept = append(kept, v)
		}
	}

	// Versions of a shared directory that stay, live or deleted, all link
	// the merge of their contents: one directory, whose entries merge
	// name by name.
	var contents []cid.Cid
	for _, v := range kept {
		if v.shared && !slices.ContainsFunc(contents, v.Target.Equals) {
			contents = append(contents, v.Target)
		}
	}
	merged := cid.Undef
	if len(contents) > 0 {
		slices.SortFunc(contents, func(a, b cid.Cid) int { return bytes.Compare(a.Bytes(), b.Bytes()) })
		merged = contents[0]
		for _, c := range contents[1:] {
			var err error
			if merged, err = st.mergeDirs(ctx, path, merged, c, depth); err != nil {
				return schema.Entry{}, err
			}
		}
	}

	// A live owned directory links the best version of it seen on
	// either side, superseded or not, its owner's deletion included (the
	// empty version a tombstone links): a lower seq never comes back with
	// a newer version vector, and what the merge links does not depend on
	// which versions an earlier merge had already superseded.
	owned := map[cid.Cid][]cid.Cid{}
	for _, v := range all {
		if v.Owner.Defined() {
			owned[v.Owner] = append(owned[v.Owner], v.Target)
		}
	}
	best := map[cid.Cid]cid.Cid{}
	for o, targets := range owned {
		c, err := st.ownedTarget(ctx, path, o, targets, depth)
		if err != nil {
			return schema.Entry{}, err
		}
		best[o] = c
	}

	out := make([]schema.Entry, 0, len(kept))
	for _, v := range kept {
		switch {
		case v.shared:
			v.Target = merged
		case v.Owner.Defined() && !v.Deleted:
			v.Target = best[v.Owner]
		}
		out = append(out, v.Entry)
	}
	return schema.FromVersions(dedupe(out)), nil
}

// dedupe drops repeated versions (equal encodings), which linking merged
// contents or an owned directory's best version can make.
func dedupe(vs []schema.Entry) []schema.Entry {
	seen := map[string]bool{}
	out := vs[:0]
	for _, v := range vs {
		k := string(schema.EncodeEntry(&v))
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// checkOwned refuses a deletion by an owner that is not later than a
// version of the directory it supersedes, and reports the versions of
// owned directories that a version without the owner's key would have
// superseded (schema.Supersedes keeps them).
func (st *state) checkOwned(path string, all []version) error {
	for _, o := range all {
		if !o.Owner.Defined() || o.Deleted {
			continue
		}
		for _, x := range all {
			if o.VV.Compare(x.VV) != schema.Before {
				continue
			}
			switch {
			case !x.Owner.Equals(o.Owner):
				st.report.Kept = append(st.report.Kept, Kept{Path: path, Owner: o.Owner})
			case x.Deleted && x.seq <= o.seq:
				return fail(path, acerr.Permission, fmt.Errorf("%w: deleted as %s's version %d, not later than version %d",
					policy.ErrBadRetirement, policy.Short(o.Owner), x.seq, o.seq))
			}
		}
	}
	return nil
}
