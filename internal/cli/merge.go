package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdMerge() *command {
	return &command{
		usage: "ac-merge [--dry-run] [--json] DEST SRC",
		help: `Ac-merge merges the directory at SRC (usually a friend's filesystem,
nodes/ID/root) into the directory at DEST (usually root), and prints what
changed in DEST: "A path" added, "M path" changed, "D path" deleted,
"C path" a conflict copy kept beside a concurrent edit. Nothing is lost:
concurrent edits of a file keep both versions, and deletions win only
over what their author had seen. Owned directories change only by their
owners' signatures. The blocks of SRC must be here: taken in with
ac-import, or fetched through a kubo daemon (--api). --dry-run prints
what would change and writes nothing.

example:
  ac-merge root nodes/bafyrei.../root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o mergeOpts
			o.flags(fs)
			return func(ctx context.Context, args []string) error { return runMerge(ctx, e, o, args) }
		},
	}
}

// mergeOpts are the flags of ac-merge and ac-merge-all.
type mergeOpts struct {
	dry, asJSON bool
	passFile    string
}

func (o *mergeOpts) flags(fs *flag.FlagSet) {
	fs.BoolVar(&o.dry, "dry-run", false, "print what would change, change nothing")
	fs.BoolVar(&o.asJSON, "json", false, "print the changes as JSON")
	fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of sealed keys from `file` (default $AC_PASSPHRASE)")
}

func runMerge(ctx context.Context, e *Env, o mergeOpts, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	dst, err := treePath(args[0])
	if err != nil {
		return err
	}
	src, err := treePath(args[1])
	if err != nil {
		return err
	}
	if dst == "" {
		return acerr.E("merge", "", acerr.Invalid, fmt.Errorf("DEST must name a directory, such as root"))
	}
	h, err := e.openSigning(ctx, o.passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	return mergeJobs(ctx, e, h, []home.MergeJob{{Dst: dst, Src: src}}, o, e.Name+" "+dst+" "+src)
}

func cmdMergeAll() *command {
	return &command{
		usage: "ac-merge-all [--dry-run] [--json]",
		help: `Ac-merge-all merges every friend's latest root (nodes/ID/root, as
ac-node add took it in) into root, as ac-merge does, in one change: if
any merge fails, nothing changes. A node whose owner is no longer a
friend (left by an older version, or put there by hand) is skipped,
with a line on stderr.

example:
  ac-merge-all`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o mergeOpts
			o.flags(fs)
			return func(ctx context.Context, args []string) error { return runMergeAll(ctx, e, o, args) }
		},
	}
}

func runMergeAll(ctx context.Context, e *Env, o mergeOpts, args []string) error {
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	h, err := e.openSigning(ctx, o.passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	jobs, skipped, err := h.FriendsNodes(ctx)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(e.Stderr, "%s: skipping %s: published by %s, who is not a friend (nor one of my identities)\n", e.Name, quote(s.Path), short(s.Owner))
	}
	if len(jobs) == 0 {
		fmt.Fprintln(e.Stderr, "ac-merge-all: no friends' nodes to merge (take one in with ac-node add)")
		return nil
	}
	return mergeJobs(ctx, e, h, jobs, o, e.Name)
}

// mergeJobs runs the jobs as one change (or a dry run) and prints what
// they changed and met.
func mergeJobs(ctx context.Context, e *Env, h *home.Home, jobs []home.MergeJob, o mergeOpts, command string) error {
	res, err := h.Merge(ctx, jobs, home.MergeOptions{DryRun: o.dry, Command: command})
	if err != nil {
		return err
	}
	for _, f := range res.Forks {
		fmt.Fprintf(e.Stderr, "%s: %s: fork of %s's directory at seq %d: kept %s, dropped %s\n", e.Name,
			quote(f.Path), policy.Short(f.Owner), f.Seq, policy.Short(f.Kept), policy.Short(f.Dropped))
	}
	for _, k := range res.Kept {
		fmt.Fprintf(e.Stderr, "%s: %s: kept %s's owned directory: a change without %s's signature cannot replace it\n", e.Name,
			quote(k.Path), policy.Short(k.Owner), policy.Short(k.Owner))
	}
	return printChanges(e, res.Changes, o.asJSON)
}

type changeJSON struct {
	Path string `json:"path"`
	What string `json:"what"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

func entryPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

var whatLetter = map[tree.What]string{tree.Added: "A", tree.Changed: "M", tree.Deleted: "D", tree.Conflict: "C"}

func printChanges(e *Env, changes []tree.Change, asJSON bool) error {
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	if asJSON {
		rows := make([]changeJSON, 0, len(changes))
		for _, c := range changes {
			r := changeJSON{Path: c.Path, What: string(c.What)}
			if c.Old.Target.Defined() {
				r.Old = c.Old.Target.String()
			}
			if c.New.Target.Defined() {
				r.New = c.New.Target.String()
			}
			rows = append(rows, r)
		}
		return writeJSON(e, rows)
	}
	for _, c := range changes {
		p := c.Path
		if c.Old.Kind == schema.KindDirectory || c.New.Kind == schema.KindDirectory {
			p += "/"
		}
		fmt.Fprintf(e.Stdout, "%s %s\n", whatLetter[c.What], quote(p))
	}
	return nil
}

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
			asJSON := fs.Bool("json", false, "print the changes as JSON")
			return func(ctx context.Context, args []string) error {
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
					c.Path = entryPath(prefix, c.Path)
					changes = append(changes, c)
					return nil
				})
				if err != nil {
					return err
				}
				return printChanges(e, changes, *asJSON)
			}
		},
	}
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
		return cid.Undef, "", acerr.E("diff", arg, acerr.NotDir, fmt.Errorf("is %s", en.Kind))
	}
	return en.Target, p, nil
}

func cmdRestore() *command {
	return &command{
		usage: "ac-restore --at WHEN PATH",
		help: `Ac-restore brings back the file or directory at PATH as it was before
a change: WHEN is the number of an entry of ac-log (1 is the newest; the
state before that change is restored) or a root CID of the tree
database. The restored entries are new changes, so they reach friends
when they merge, and win over the deletion they undo. What is at PATH
now and was not then stays.

example:
  ac-log -n 3
  ac-restore --at 2 root/forum/notes.txt`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o restoreOpts
			fs.StringVar(&o.at, "at", "", "restore as before ac-log entry `N`, or as in root CID")
			fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of sealed keys from `file` (default $AC_PASSPHRASE)")
			return func(ctx context.Context, args []string) error { return runRestore(ctx, e, o, args) }
		},
	}
}

type restoreOpts struct{ at, passFile string }

func runRestore(ctx context.Context, e *Env, o restoreOpts, args []string) error {
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	if o.at == "" {
		return usagef("--at is required")
	}
	p, err := treePath(args[0])
	if err != nil {
		return err
	}
	if !home.InRoot(p) || p == home.Root {
		return acerr.E("restore", args[0], acerr.Invalid, fmt.Errorf("only paths under %s/ can be restored", home.Root))
	}
	h, err := e.openSigning(ctx, o.passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	then, err := restorePoint(h, o.at)
	if err != nil {
		return err
	}
	r, err := h.Restore(ctx, p, then, e.Name+" "+p)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "restored %s (%d entries)\n", quote(p), r.Entries)
	return nil
}

// restorePoint returns the root of the tree database that --at names.
func restorePoint(h *home.Home, at string) (cid.Cid, error) {
	if c, err := cid.Decode(at); err == nil {
		return c, nil
	}
	var n int
	if _, err := fmt.Sscanf(at, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != at {
		return cid.Undef, usagef("--at %q: want an ac-log entry number (1 is the newest) or a root CID", at)
	}
	c, err := h.Before(n)
	if e, ok := err.(*acerr.Error); ok && e.Op == "log" {
		return cid.Undef, acerr.E("restore", "", e.Kind, fmt.Errorf("--at %d: %v", n, e.Err))
	}
	if err != nil {
		return cid.Undef, err
	}
	return c, nil
}
