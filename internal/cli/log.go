package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/archivecache/archivecache/schema"
)

func cmdLog() *command {
	return &command{
		usage: "ac-log [-n N] [--json]",
		help: `Ac-log lists every change of HEAD, newest first: when, which command,
and the old and new root CIDs. Any old root can be inspected or restored
from, since blocks are immutable.

example:
  ac-log -n 5`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o logOpts
			fs.IntVar(&o.n, "n", 0, "show at most `N` entries (0: all)")
			fs.BoolVar(&o.asJSON, "json", false, "print as JSON")
			return func(ctx context.Context, args []string) error { return runLog(ctx, e, o, args) }
		},
	}
}

type logOpts struct {
	n      int
	asJSON bool
}

func runLog(ctx context.Context, e *Env, o logOpts, args []string) error {
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	if o.n < 0 {
		return usagef("-n %d: want 0 (all) or more", o.n)
	}
	h, _, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	log, err := h.Head.Log()
	if err != nil {
		return err
	}
	if o.n > 0 && len(log) > o.n {
		log = log[:o.n]
	}
	if o.asJSON {
		rows := make([]logRow, 0, len(log))
		for _, l := range log {
			r := logRow{Time: l.Time.UTC().Format(time.RFC3339Nano), Command: l.Command, New: l.New.String()}
			if l.Old.Defined() {
				r.Old = l.Old.String()
			}
			rows = append(rows, r)
		}
		return writeJSON(e, rows)
	}
	for _, l := range log {
		old := "-"
		if l.Old.Defined() {
			old = l.Old.String()
		}
		fmt.Fprintf(e.Stdout, "%s  %s\n    %s -> %s\n", l.Time.Local().Format("2006-01-02 15:04:05"), quote(l.Command), old, l.New)
	}
	return nil
}

type logRow struct {
	Time    string `json:"time"`
	Command string `json:"command"`
	Old     string `json:"old,omitempty"`
	New     string `json:"new"`
}

// formatVV prints a version vector as "replica:counter" pairs, sorted.
func formatVV(vv schema.VV) string {
	pairs := make([]string, 0, len(vv))
	for k, n := range vv {
		pairs = append(pairs, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, " ")
}
