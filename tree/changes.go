package tree

import (
	"context"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// What says how a name changed between two trees.
type What string

const (
	Added    What = "added"
	Changed  What = "changed"
	Deleted  What = "deleted"
	Conflict What = "conflict" // a conflict copy appeared
)

// A Change is one difference between two trees as a listing shows them.
type Change struct {
	Path     string
	What     What
	Old, New schema.Entry // the entry before and after; the zero Entry where there is none
}

// Changes calls fn, in no set order, for every difference between the
// directories a and b as List shows them: a name added, deleted or
// changed (another target, kind or mode), or a conflict copy that
// appeared. A directory on both sides is not reported itself, only what
// differs inside it; a directory added or deleted is reported once, not
// its contents. Like Diff, it reads only the paths to the differences.
//
// Two directories compared once are not compared again where another
// path leads to the same pair (trees whose directories share children):
// there the directory itself is reported as Changed. So the cost is
// bounded by the distinct pairs of directories, not by the paths.
func (t *Tree) Changes(ctx context.Context, a, b cid.Cid, fn func(Change) error) error {
	return t.changes(ctx, "", a, b, 0, map[[2]cid.Cid]bool{}, fn)
}

func (t *Tree) changes(ctx context.Context, dir string, a, b cid.Cid, depth int, seen map[[2]cid.Cid]bool, fn func(Change) error) error {
	if depth > maxWalkDepth {
		return wrap("tree.Changes", dir, fail(acerr.TooLarge, "directories nested deeper than %d", maxWalkDepth))
	}
	seen[[2]cid.Cid{a, b}] = true
	return t.Diff(ctx, a, b, func(name string, ea, eb *schema.Entry) error {
		va, err := t.visibleIn(ctx, a, ea)
		if err != nil {
			return err
		}
		vb, err := t.visibleIn(ctx, b, eb)
		if err != nil {
			return err
		}
		return zipByName(va, vb, func(x, y *schema.Entry) error {
			switch {
			case x == nil:
				what := Added
				if y.Name != name {
					what = Conflict
				}
				return fn(Change{Path: JoinPath(dir, y.Name), What: what, New: *y})
			case y == nil:
				return fn(Change{Path: JoinPath(dir, x.Name), What: Deleted, Old: *x})
			case x.Kind == schema.KindDirectory && y.Kind == schema.KindDirectory:
				switch {
				case x.Target.Equals(y.Target):
				case seen[[2]cid.Cid{x.Target, y.Target}]:
					return fn(Change{Path: JoinPath(dir, x.Name), What: Changed, Old: *x, New: *y})
				default:
					return t.changes(ctx, JoinPath(dir, x.Name), x.Target, y.Target, depth+1, seen, fn)
				}
			case !sameContent(x, y) || x.Mode != y.Mode:
				return fn(Change{Path: JoinPath(dir, x.Name), What: Changed, Old: *x, New: *y})
			}
			return nil
		})
	})
}
