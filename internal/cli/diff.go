package cli

import (
	"context"
	"flag"
	"fmt"

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
"C path" a conflict copy, with paths under OLD. OLD and NEW are paths in
the tree database (root, nodes/ID/root), or root CIDs of it as ac-log
prints them, which stand for its root directory.

example:
  ac-diff bafyrei...old bafyrei...new`,
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
	var prefix string
	for i, a := range args {
		var p string
		if dirs[i], p, err = diffSide(ctx, t, head, a); err != nil {
			return err
		}
		if i == 0 {
			prefix = p
		}
	}
	var changes []tree.Change
	err = t.Changes(ctx, dirs[0], dirs[1], func(c tree.Change) error {
		c.Path = tree.JoinPath(prefix, c.Path)
		changes = append(changes, c)
		return nil
	})
	if err != nil {
		return err
	}
	return printChanges(e, changes, o.asJSON)
}

// diffSide resolves an argument of ac-diff to a directory and its path:
// a root CID of the tree database stands for its root/, anything else is
// a path.
func diffSide(ctx context.Context, t *tree.Tree, head cid.Cid, arg string) (cid.Cid, string, error) {
	if c, err := cid.Decode(arg); err == nil {
		head, arg = c, home.Root
	}
	p, err := treePath(arg)
	if err != nil {
		return cid.Undef, "", err
	}
	en, err := t.Lookup(ctx, head, p)
	if err != nil {
		return cid.Undef, "", err
	}
	if en.Kind != schema.KindDirectory {
		return cid.Undef, "", acerr.E("diff", arg, acerr.NotDir, fmt.Errorf("is %s", en.Kind.Noun()))
	}
	return en.Target, p, nil
}
