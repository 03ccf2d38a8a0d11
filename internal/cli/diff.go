package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdDiff() *command {
	return &command{
		usage: "ac-diff [--json] OLD NEW",
		help: `Ac-diff prints what differs between two directories, as ac-merge
prints its changes: "A path" added, "M path" changed, "D path" deleted,
"C path" a conflict copy, with paths relative to the directories named.
It exits 1 if they differ and 0 if not, as diff does.

OLD and NEW are each a path in the tree database (root/projects,
nodes/ID/root) as it is now, or one of these, which stand for root/ as
it was then, or for PATH in it when followed by :PATH:

  N          before ac-log entry N (what ac-restore --at N restores from)
  HEAD       now; HEAD~N is HEAD N changes back, the same as N
  CID        a root CID as ac-log prints it; a node's CID (its root/);
             or a directory's CID, such as the root: ac-info node shows

example:
  ac-diff 1 HEAD                         # what the last change did
  ac-diff HEAD~3:root/projects root/projects
  ac-diff nodes/bafyrei.../root root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o diffOpts
			fs.BoolVar(&o.asJSON, "json", false, "print the changes as JSON")
			return func(ctx context.Context, args []string) error { return runDiff(ctx, e, o, args) }
		},
	}
}

type diffOpts struct {
	asJSON bool
}

func runDiff(ctx context.Context, e *Env, o diffOpts, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	h, head, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	t := h.Tree(cid.Undef)
	var dirs [2]cid.Cid
	for i, a := range args {
		if dirs[i], err = diffSide(ctx, h, t, head, a); err != nil {
			return err
		}
	}
	var changes []tree.Change
	err = t.Changes(ctx, dirs[0], dirs[1], func(c tree.Change) error {
		changes = append(changes, c)
		return nil
	})
	if err != nil {
		return err
	}
	if err := printChanges(e, changes, o.asJSON); err != nil {
		return err
	}
	if len(changes) > 0 {
		return silentFailure{}
	}
	return nil
}

// diffSide resolves an argument of ac-diff to a directory: a path now,
// or a reference to the tree database as it was (N, HEAD, HEAD~N, a CID)
// standing for its root/, or for PATH in it after a colon.
func diffSide(ctx context.Context, h *home.Home, t *tree.Tree, head cid.Cid, arg string) (cid.Cid, error) {
	ref, p, hasPath := strings.Cut(arg, ":")
	root, dir, isRef, err := resolveRef(ctx, h, t, head, ref)
	if err != nil {
		return cid.Undef, err
	}
	switch {
	case !isRef:
		root, p = head, arg
	case !hasPath && dir.Defined():
		return dir, nil
	case !hasPath:
		p = home.Root
	case dir.Defined():
		return cid.Undef, usagef("%s: a directory's CID takes no :PATH", arg)
	}
	if p, err = treePath(p); err != nil {
		return cid.Undef, err
	}
	if p, err = h.ResolvePath(ctx, root, p); err != nil {
		return cid.Undef, err
	}
	en, err := t.Lookup(ctx, root, p)
	if err != nil {
		return cid.Undef, err
	}
	if en.Kind != schema.KindDirectory {
		return cid.Undef, acerr.E("diff", arg, acerr.NotDir, fmt.Errorf("is %s", en.Kind.Noun()))
	}
	return en.Target, nil
}

// resolveRef resolves what ac-diff takes for the tree database as it
// was: a log entry number, HEAD, HEAD~N, or a CID. A CID of the tree
// database's root gives that root; of a node, its root/ directory; of any
// other directory, that directory (dir). isRef is false for anything
// else: a path.
func resolveRef(ctx context.Context, h *home.Home, t *tree.Tree, head cid.Cid, ref string) (root, dir cid.Cid, isRef bool, err error) {
	back := func(n string) (cid.Cid, cid.Cid, bool, error) {
		k, err := strconv.Atoi(n)
		if err != nil || k < 0 || strconv.Itoa(k) != n {
			return cid.Undef, cid.Undef, true, usagef("%q: want HEAD~N with N a number", ref)
		}
		if k == 0 {
			return head, cid.Undef, true, nil
		}
		c, err := h.Before(ctx, k)
		return c, cid.Undef, true, err
	}
	switch {
	case ref == "HEAD":
		return head, cid.Undef, true, nil
	case strings.HasPrefix(ref, "HEAD~"):
		return back(ref[len("HEAD~"):])
	case ref != "" && strings.Trim(ref, "0123456789") == "":
		if ref == "0" {
			return cid.Undef, cid.Undef, true, usagef("0: ac-log numbers its entries from 1, the newest (HEAD is now)")
		}
		return back(ref)
	}
	c, err := cid.Decode(ref)
	if err != nil {
		return cid.Undef, cid.Undef, false, nil
	}
	// A node's root, a tree database's root (it holds root/ and
	// identities/), or a directory of its own.
	if n, err := h.LoadNode(ctx, c); err == nil {
		if node, ok := n.(*schema.Node); ok {
			return cid.Undef, node.Root, true, nil
		}
	}
	if _, err := t.Lookup(ctx, c, home.Identities); err == nil {
		return c, cid.Undef, true, nil
	}
	return cid.Undef, c, true, nil
}
