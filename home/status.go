package home

import (
	"context"
	"io/fs"
	"path/filepath"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Status is where the home stands, as ac-status shows it.
type Status struct {
	Head cid.Cid
	// Node is my published node, nil if none: whether root/ changed
	// since it was published, and how.
	Node *NodeStatus
	// Friends are the friends' nodes held, each with whether it is
	// merged into root/.
	Friends []FriendStatus
	// Conflicts are the paths of the conflict copies under root/.
	Conflicts []string
	// Missing are the files under root/ whose content this store does
	// not hold.
	Missing []MissingFile
	// StoreBytes is the size of the embedded store's files; -1 for a
	// kubo daemon's store.
	StoreBytes int64
}

// NodeStatus is what Status says of my published node.
type NodeStatus struct {
	Seq     uint64
	Root    cid.Cid
	Behind  bool          // root/ changed since the node was published
	Changes []tree.Change // what changed, paths from the top
}

// FriendStatus is what Status says of one friend's node.
type FriendStatus struct {
	Friend   Friend
	Seq      uint64
	Merged   bool   // merging it into root/ would change nothing
	TreeHere bool   // its directory blocks are held, so it can be merged
	Problem  string // why its tree cannot be merged, if it is here but refused
}

// MissingFile is a file whose content is not held, and the friend whose
// tree holds the file too, from whom it would come (nil: none does).
type MissingFile struct {
	Path   string
	Target cid.Cid
	From   *Friend
}

// Status says where the home stands: whether my node is behind root/,
// which friends' nodes are not merged, the conflict copies and the
// files whose content is missing under root/, and the store's size. It
// reads the tree under root/ once and merges nothing.
func (h *Home) Status(ctx context.Context) (*Status, error) {
	head, err := h.Get()
	if err != nil {
		return nil, err
	}
	st := &Status{Head: head, StoreBytes: -1}
	t := h.Tree(cid.Undef)
	rootEnt, err := t.Lookup(ctx, head, Root)
	if err != nil {
		return nil, err
	}
	if en, err := t.Lookup(ctx, head, Node); err == nil {
		if n, err := h.LoadNode(ctx, en.Target); err == nil {
			if node, ok := n.(*schema.Node); ok {
				ns := &NodeStatus{Seq: node.Seq, Root: node.Root, Behind: !node.Root.Equals(rootEnt.Target)}
				if ns.Behind {
					err := t.Changes(ctx, node.Root, rootEnt.Target, func(c tree.Change) error {
						c.Path = tree.JoinPath(Root, c.Path)
						ns.Changes = append(ns.Changes, c)
						return nil
					})
					if err != nil && !acerr.Is(acerr.NotExist, err) {
						return nil, err
					}
				}
				st.Node = ns
			}
		}
	} else if !acerr.Is(acerr.NotExist, err) {
		return nil, err
	}
	if err := h.friendsStatus(ctx, head, st); err != nil {
		return nil, err
	}
	if err := t.ConflictCopies(ctx, head, Root, func(p string) error {
		st.Conflicts = append(st.Conflicts, p)
		return nil
	}); err != nil {
		return nil, err
	}
	err = t.Walk(ctx, head, Root, func(p string, e schema.Entry) error {
		if e.Kind != schema.KindFile {
			return nil
		}
		held, err := h.Store.Has(ctx, e.Target)
		if err != nil {
			return err
		}
		if !held {
			st.Missing = append(st.Missing, MissingFile{Path: p, Target: e.Target})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := h.missingFrom(ctx, head, st); err != nil {
		return nil, err
	}
	st.StoreBytes = h.StoreBytes()
	return st, nil
}

// friendsStatus adds each friend's node to st: merged or not (a dry
// merge into root/ that would change nothing), and whether its tree is
// here to merge.
func (h *Home) friendsStatus(ctx context.Context, head cid.Cid, st *Status) error {
	fs, err := h.Friends(ctx, head)
	if err != nil {
		return err
	}
	t := h.Tree(cid.Undef)
	for _, f := range fs {
		p := Nodes + "/" + f.ID.String()
		en, err := t.Lookup(ctx, head, p)
		if acerr.Is(acerr.NotExist, err) {
			continue
		}
		if err != nil {
			return err
		}
		n, err := h.LoadNode(ctx, en.Target)
		if err != nil {
			return err
		}
		node, ok := n.(*schema.Node)
		if !ok {
			continue
		}
		fst := FriendStatus{Friend: f, Seq: node.Seq}
		m, err := h.Merge(ctx, []MergeJob{{Dst: Root, Src: p + "/root"}}, MergeOptions{DryRun: true})
		switch {
		case err == nil:
			fst.TreeHere, fst.Merged = true, !m.Changed
		case ctx.Err() != nil:
			return ctx.Err()
		case !acerr.Is(acerr.NotExist, err):
			fst.TreeHere, fst.Problem = true, acerr.Brief(err)
		}
		st.Friends = append(st.Friends, fst)
	}
	return nil
}

// missingFrom finds, for each file of st.Missing, a friend whose tree
// holds it too: walking the friends' trees that are here, and keeping
// in memory only the files that are missing.
func (h *Home) missingFrom(ctx context.Context, head cid.Cid, st *Status) error {
	wanted := map[cid.Cid][]int{}
	for i, m := range st.Missing {
		wanted[m.Target] = append(wanted[m.Target], i)
	}
	t := h.Tree(cid.Undef)
	for _, f := range st.Friends {
		if len(wanted) == 0 {
			return nil
		}
		if !f.TreeHere || f.Problem != "" {
			continue
		}
		friend := f.Friend
		err := t.Walk(ctx, head, Nodes+"/"+friend.ID.String()+"/"+Root, func(_ string, e schema.Entry) error {
			if e.Kind != schema.KindFile {
				return nil
			}
			for _, i := range wanted[e.Target] {
				st.Missing[i].From = &friend
			}
			delete(wanted, e.Target)
			return nil
		})
		if err != nil && !acerr.Is(acerr.NotExist, err) {
			return err
		}
	}
	return nil
}

// StoreBytes is the size of the embedded store's files, a stat of each
// (no walk of what they hold); -1 for a kubo daemon's store, whose size
// is the daemon's to tell.
func (h *Home) StoreBytes() int64 {
	if _, ok := h.Store.(*ipfsstore.Embedded); !ok {
		return -1
	}
	return dirBytes(filepath.Join(h.Dir, blocksDir))
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
