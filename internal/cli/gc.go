package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/progress"
)

func cmdGC() *command {
	return &command{
		usage: "ac-gc [--keep N] [--keep-within DURATION] [--dry-run] [--json]",
		help: `Ac-gc keeps HEAD and the history entries it is told to, with everything
they reach (identities, friends, their nodes and what of their trees is
here), and gives back the space of every other block. Without --keep or
--keep-within it keeps every entry of ac-log and gives back only what
none reaches: what failed or interrupted commands left. --keep N keeps
the trees before the N newest entries (what ac-restore --at 1 … N takes);
--keep-within DURATION (such as 36h or 30d) those of the entries made
since then; both: either. Entries past them stay in ac-log, but their
trees are gone. The embedded store's packs are rewritten without the
dead blocks, safely should the command be killed; it runs once no other
command has the home open, waiting as long as --lock-timeout. With kubo
the roots the daemon keeps for this home become the kept ones, and the
daemon's own garbage collection (ipfs repo gc) frees the rest.
It records in the home what it leaves to free (ac-info shows it as
reclaimable, a dry run's figure too) and which entries' trees it gave
back (ac-log marks them "(collected)"). Progress (blocks walked, then
bytes copied) goes to stderr when it is a terminal, or with --json as
JSON lines, where files_done counts blocks.

example:
  ac-gc --dry-run --keep 10
  ac-gc --keep 10 --keep-within 30d`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o gcOpts
			fs.IntVar(&o.keep, "keep", 0, "keep the trees before the `N` newest ac-log entries (default: every entry)")
			fs.StringVar(&o.within, "keep-within", "", "keep the trees of the entries made within `DURATION` (36h, 30d)")
			fs.BoolVar(&o.dryRun, "dry-run", false, "say what would be freed; change nothing")
			fs.BoolVar(&o.asJSON, "json", false, "print as JSON")
			return func(ctx context.Context, args []string) error {
				o.keepSet, o.keepGiven = false, false
				fs.Visit(func(f *flag.Flag) {
					o.keepSet = o.keepSet || f.Name == "keep" || f.Name == "keep-within"
					o.keepGiven = o.keepGiven || f.Name == "keep"
				})
				return runGC(ctx, e, o, args)
			}
		},
	}
}

type gcOpts struct {
	keep           int
	within         string
	keepSet        bool // --keep or --keep-within
	keepGiven      bool // --keep
	dryRun, asJSON bool
}

// parseWithin reads a --keep-within duration: Go's, or a number of days.
func parseWithin(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usagef("--keep-within %q: want a duration such as 36h or 30d", s)
	}
	return d, nil
}

func runGC(ctx context.Context, e *Env, o gcOpts, args []string) error {
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	opts := home.GCOptions{Keep: home.KeepAll, DryRun: o.dryRun}
	if o.keepSet {
		if o.keep < 0 {
			return usagef("--keep %d: want 0 or more", o.keep)
		}
		opts.Keep = o.keep
		if o.within != "" {
			d, err := parseWithin(o.within)
			if err != nil {
				return err
			}
			opts.Within = d
		}
	}
	opts.Command = gcCommand(e.Name, o)
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	opts.Progress = &progress.Counter{}
	m := e.startMeterOf(opts.Progress, "blocks", o.asJSON)
	rep, err := h.GC(ctx, opts)
	m.stop(err == nil)
	if err != nil {
		return err
	}
	if o.asJSON {
		return writeJSON(e, map[string]any{
			"dry_run": o.dryRun, "entries": rep.Entries, "kept_entries": rep.KeptEntries, "roots": rep.Roots,
			"blocks": rep.Blocks, "freed_blocks": rep.FreedBlocks, "before": rep.Before, "after": rep.After, "freed": rep.Freed(),
			"packs": rep.Packs, "packs_rewritten": rep.PacksRewritten, "packs_removed": rep.PacksRemoved,
			"orphans": rep.Orphans, "released": rep.Released, "given": rep.Given, "head": rep.Head.String(),
		})
	}
	would := ""
	if o.dryRun {
		would = "would "
	}
	fmt.Fprintf(e.Stdout, "kept %d of %d log entries (%d roots)\n", rep.KeptEntries, rep.Entries, rep.Roots)
	if firstNonEmpty(e.API, h.Config.API) != "" {
		fmt.Fprintf(e.Stdout, "%srelease %d roots the daemon kept; its ipfs repo gc frees what only they reached\n", would, rep.Released)
		return nil
	}
	if o.dryRun {
		would = "would free"
	} else {
		would = "freed"
	}
	fmt.Fprintf(e.Stdout, "%s %s: %d blocks, %d packs rewritten, %d removed, %d files of failed commands\n",
		would, bytesText(rep.Freed()), rep.FreedBlocks, rep.PacksRewritten, rep.PacksRemoved, rep.Orphans)
	fmt.Fprintf(e.Stdout, "store: %s of %d blocks, was %s\n", bytesText(rep.After), rep.Blocks, humanSize(uint64(rep.Before)))
	return nil
}

// gcCommand is the command line as the home's record of collections
// names it: "ac-gc --dry-run --keep 10".
func gcCommand(name string, o gcOpts) string {
	cmd := name
	if o.dryRun {
		cmd += " --dry-run"
	}
	if o.keepGiven {
		cmd += " --keep " + strconv.Itoa(o.keep)
	}
	if o.within != "" {
		cmd += " --keep-within " + o.within
	}
	return cmd
}
