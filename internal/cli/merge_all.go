package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/progress"
)

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
	// A merge is long only when a daemon fetches the blocks it lacks.
	var counts *progress.Counter
	if _, daemon := h.Store.(*ipfsstore.Kubo); daemon {
		counts = &progress.Counter{}
	}
	m := e.startMeter(counts, o.asJSON)
	res, err := h.Merge(ctx, jobs, home.MergeOptions{DryRun: o.dry, Command: command, Progress: m.counter()})
	m.stop(err == nil)
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
