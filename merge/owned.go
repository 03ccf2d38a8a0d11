package merge

import (
	"context"
	"slices"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// ownedTarget chooses among versions of a directory owned by owner, by
// policy.CompareOwned: the highest seq, and at equal seqs the smaller CID
// (reported as a fork).
// If the Signer holds owner's key and that version neither descends from
// another (through prev) nor holds all its entries, they are diverged
// replicas of my own directory: their entries merge, and the result is
// signed with the next seq after both.
func (st *state) ownedTarget(ctx context.Context, path string, owner cid.Cid, targets []cid.Cid, depth int) (cid.Cid, error) {
	type cand struct {
		c cid.Cid
		d *schema.Directory
	}
	var cs []cand
	for _, c := range targets {
		if slices.ContainsFunc(cs, func(x cand) bool { return x.c.Equals(c) }) {
			continue
		}
		d, err := st.read(ctx, path, c)
		if err != nil {
			return cid.Undef, err
		}
		cs = append(cs, cand{c, d})
	}
	slices.SortFunc(cs, func(a, b cand) int { return policy.CompareOwned(a.d, a.c, b.d, b.c) })
	best := cs[0]
	mine := st.m.cfg.Signer != nil && st.m.cfg.Signer.Holds(owner)
	for _, o := range cs[1:] {
		if !mine {
			if o.d.Seq == best.d.Seq {
				st.report.Forks = append(st.report.Forks, Fork{Path: path, Owner: owner, Seq: o.d.Seq, Kept: best.c, Dropped: o.c})
			}
			continue
		}
		// My own directory: unless best descends from o, or already
		// holds everything o does (a merge of it), the two replicas
		// diverged, and their entries merge.
		desc, err := st.descends(ctx, path, best.c, best.d, o.c, o.d)
		if err != nil || desc {
			if err != nil {
				return cid.Undef, err
			}
			continue
		}
		set, err := st.mergeEntries(ctx, path, best.c, o.c, depth)
		if err != nil {
			return cid.Undef, err
		}
		if len(set) == 0 {
			continue
		}
		header := &schema.Directory{Owner: owner, Seq: max(best.d.Seq, o.d.Seq) + 1, Prev: best.c}
		c, err := st.write(ctx, path, best.c, set, header)
		if err != nil {
			return cid.Undef, err
		}
		d, err := st.read(ctx, path, c)
		if err != nil {
			return cid.Undef, err
		}
		best = cand{c, d}
	}
	return best.c, nil
}

// descends reports whether version c (d) of an owned directory is anc or
// reaches anc through its prev links, following at most maxPrevWalk.
func (st *state) descends(ctx context.Context, path string, c cid.Cid, d *schema.Directory, anc cid.Cid, ad *schema.Directory) (bool, error) {
	for range maxPrevWalk {
		if c.Equals(anc) {
			return true, nil
		}
		if d.Seq <= ad.Seq || !d.Prev.Defined() {
			return false, nil
		}
		c = d.Prev
		var err error
		if d, err = st.read(ctx, path, c); err != nil {
			if acerr.Is(acerr.NotExist, err) {
				return false, nil // history not held here
			}
			return false, err
		}
	}
	return false, nil
}

// maxPrevWalk bounds how many prev links a merge follows to tell whether
// one version of an owned directory descends from another.
const maxPrevWalk = 1024
