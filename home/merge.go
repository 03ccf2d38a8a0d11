package home

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// MissingBlocksHint is what to do when a friend's blocks are not here.
const MissingBlocksHint = "take their CAR in with ac-import, or use --api with a daemon that can fetch them"

// MergeJob merges the directory at Src (a friend's nodes/ID/root) into
// the one at Dst (root, or a directory under it).
type MergeJob struct{ Dst, Src string }

// MergeOptions are the options of Merge. The zero value is usable.
type MergeOptions struct {
	// DryRun computes the merge on an overlay of the store that is then
	// dropped: nothing is written, HEAD does not move.
	DryRun bool
	// Command is what the log records; empty: "merge DST SRC" for one
	// job, "merge" for more.
	Command string
	// Progress, if not nil, counts the bytes of the blocks the merge
	// reads: with a kubo daemon, those it fetches from its peers among
	// them.
	Progress *progress.Counter
}

// Merged is what a merge changed, and what it met that the tree does not
// show. Paths are from the top of the tree database.
type Merged struct {
	Changes []tree.Change
	Forks   []merge.Fork // of owned directories: a seq signed twice
	Kept    []merge.Kept // owned directories a change without the owner's key would have replaced
	Changed bool         // whether HEAD moved (or, dry, would)
}

// Merge merges the jobs in order, as one change of HEAD: if any fails,
// nothing changes. Each source is checked before anything of it is used
// (package merge): a friend's tree that breaks a rule is refused whole,
// with the path and the block. A source that passes through a node of
// someone who is not a friend (left from a removed friend) is refused.
func (h *Home) Merge(ctx context.Context, jobs []MergeJob, o MergeOptions) (*Merged, error) {
	cmd := o.Command
	if cmd == "" {
		cmd = "merge"
		if len(jobs) == 1 {
			cmd += " " + jobs[0].Dst + " " + jobs[0].Src
		}
	}
	for _, j := range jobs {
		if !InRoot(j.Dst) {
			return nil, acerr.E("merge", j.Dst, acerr.Invalid, errors.New("a merge goes into root/ or a directory under it"))
		}
	}
	var res *Merged
	do := func(st ipfsstore.Store, old cid.Cid) (cid.Cid, error) {
		res = &Merged{}
		if o.Progress != nil {
			st = countingStore{st, o.Progress}
		}
		signer := h.keys()
		t := tree.New(st, h.TreeConfig(cid.Undef, signer))
		m := merge.New(merge.Config{Store: st, Tree: h.TreeConfig(cid.Undef, nil), Resolver: h.Trust(old), Signer: signer})
		head := old
		for _, j := range jobs {
			if err := h.checkSource(ctx, t, head, j.Src); err != nil {
				return cid.Undef, h.NotReceived(ctx, "merge", j.Src, err)
			}
			next, err := mergeOne(ctx, t, m, head, j, res)
			if err != nil {
				return cid.Undef, h.NotReceived(ctx, "merge", j.Src, err)
			}
			head = next
		}
		res.Changed = !head.Equals(old)
		return head, nil
	}
	if o.DryRun {
		ov := ipfsstore.NewOverlay(h.Store)
		defer ov.Close()
		head, err := h.Get()
		if err != nil {
			return nil, err
		}
		if _, err := do(ov, head); err != nil {
			return nil, err
		}
		return res, nil
	}
	if _, err := h.Update(ctx, cmd, func(old cid.Cid) (cid.Cid, error) { return do(h.Store, old) }); err != nil {
		return nil, err
	}
	return res, nil
}

// mergeOne merges j.Src into j.Dst under head, adds what it did to res,
// and returns the new head.
func mergeOne(ctx context.Context, t *tree.Tree, m *merge.Merger, head cid.Cid, j MergeJob, res *Merged) (cid.Cid, error) {
	dirAt := func(p string) (schema.Entry, error) {
		en, err := t.Lookup(ctx, head, p)
		if err != nil {
			return en, err
		}
		if en.Kind != schema.KindDirectory {
			return en, acerr.E("merge", p, acerr.NotDir, fmt.Errorf("is %s", en.Kind.Noun()))
		}
		return en, nil
	}
	de, err := dirAt(j.Dst)
	if err != nil {
		return cid.Undef, err
	}
	se, err := dirAt(j.Src)
	if err != nil {
		return cid.Undef, err
	}
	merged, rep, err := m.Merge(ctx, de.Target, se.Target)
	if err != nil {
		e := acerr.E("merge", j.Src, acerr.KindOf(err), err)
		if acerr.Is(acerr.NotExist, err) && strings.HasPrefix(j.Src, "nodes/") {
			// The friend's blocks have not come yet: the reference came
			// without them.
			e = e.WithHint(MissingBlocksHint)
		}
		return cid.Undef, e
	}
	for _, f := range rep.Forks {
		f.Path = tree.JoinPath(j.Dst, f.Path)
		res.Forks = append(res.Forks, f)
	}
	for _, k := range rep.Kept {
		k.Path = tree.JoinPath(j.Dst, k.Path)
		res.Kept = append(res.Kept, k)
	}
	if merged.Equals(de.Target) {
		return head, nil
	}
	err = t.Changes(ctx, de.Target, merged, func(c tree.Change) error {
		c.Path = tree.JoinPath(j.Dst, c.Path)
		res.Changes = append(res.Changes, c)
		return nil
	})
	if err != nil {
		return cid.Undef, err
	}
	return t.Put(ctx, head, j.Dst, schema.Entry{Kind: schema.KindDirectory, Target: merged, Mode: de.Mode})
}

// SkippedNode is a node under nodes/ that MergeAll leaves alone: its
// owner is neither a friend nor one of my identities (a node left from a
// removed friend, or put there some other way).
type SkippedNode struct {
	Path  string
	Owner cid.Cid
}

// FriendsNodes returns the jobs that merge each friend's latest root
// (nodes/ID/root) into root, and the nodes it skips.
func (h *Home) FriendsNodes(ctx context.Context) ([]MergeJob, []SkippedNode, error) {
	head, err := h.Get()
	if err != nil {
		return nil, nil, err
	}
	nodes, err := h.Tree(cid.Undef).List(ctx, head, Nodes)
	if err != nil {
		return nil, nil, err
	}
	trust := h.Trust(head)
	var jobs []MergeJob
	var skipped []SkippedNode
	for _, n := range nodes {
		if n.Kind != schema.KindNode {
			continue
		}
		p := Nodes + "/" + n.Name
		owner, err := h.trustedNode(ctx, trust, p, n.Target)
		if errors.Is(err, policy.ErrNotFriend) {
			skipped = append(skipped, SkippedNode{Path: p, Owner: owner})
			continue
		} else if err != nil {
			return nil, nil, err
		}
		jobs = append(jobs, MergeJob{Dst: Root, Src: p + "/root"})
	}
	return jobs, skipped, nil
}

// trustedNode checks that the node_v1 at p, n, was published by a friend
// or by me, and returns its owner: the rest of what a node links is
// trusted only as far as its owner is. Any other owner is refused with
// an error of kind acerr.Permission, with path p, wrapping
// policy.ErrNotFriend.
func (h *Home) trustedNode(ctx context.Context, trust *Trust, p string, n cid.Cid) (cid.Cid, error) {
	node, err := h.LoadNode(ctx, n)
	if err != nil {
		return cid.Undef, err
	}
	nd, ok := node.(*schema.Node)
	if !ok {
		return cid.Undef, acerr.E("node", p, acerr.Integrity, fmt.Errorf("holds %s", node.Kind().Noun()))
	}
	if _, err := trust.Identity(ctx, nd.Owner); err != nil {
		if acerr.Is(acerr.Permission, err) {
			return nd.Owner, acerr.E("node", p, acerr.Permission, fmt.Errorf("published by %s, who is %w (nor one of my identities)", shortID(nd.Owner), policy.ErrNotFriend))
		}
		return cid.Undef, err
	}
	return nd.Owner, nil
}

// checkSource refuses a path to merge from that passes through a node
// which trustedNode refuses, such as nodes/<id>/root of a removed friend.
// A path that does not resolve is left for the merge to report.
func (h *Home) checkSource(ctx context.Context, t *tree.Tree, head cid.Cid, src string) error {
	trust := h.Trust(head)
	comps := strings.Split(src, "/")
	for i := range comps {
		p := strings.Join(comps[:i+1], "/")
		en, err := t.Lookup(ctx, head, p)
		if err != nil {
			return nil
		}
		if en.Kind == schema.KindNode {
			if _, err := h.trustedNode(ctx, trust, p, en.Target); err != nil {
				return err
			}
		}
	}
	return nil
}

// shortID abbreviates an identity CID for messages: the last 10
// characters, which differ between CIDs, as listings show them.
func shortID(c cid.Cid) string {
	s := c.String()
	if len(s) <= 12 {
		return s
	}
	return "…" + s[len(s)-10:]
}

// countingStore counts the bytes of the blocks read through it.
type countingStore struct {
	ipfsstore.Store
	c *progress.Counter
}

func (s countingStore) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	b, err := s.Store.Get(ctx, c)
	s.c.Add(0, int64(len(b)))
	return b, err
}

// BlockSize and Sync pass on what the store does, so that counting
// changes nothing: a size is looked up where it is held (kubo then
// fetches nothing to check it), and what was written is made durable.
func (s countingStore) BlockSize(ctx context.Context, c cid.Cid) (int, error) {
	return ipfsstore.BlockSize(ctx, s.Store, c)
}

func (s countingStore) Sync(ctx context.Context) error {
	if y, ok := s.Store.(ipfsstore.Syncer); ok {
		return y.Sync(ctx)
	}
	return nil
}
