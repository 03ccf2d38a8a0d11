package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdLog() *command {
	return &command{
		usage: "ac-log [-n N] [--oneline] [-p] [--json] [PATH]",
		help: `Ac-log lists every change of HEAD, newest first: its number (what
ac-restore --at N takes: 1 is the newest), when, what the command did,
and the old and new root CIDs. Any old root can be inspected or restored
from, since blocks are immutable, unless ac-gc gave its tree back: the
entry then says "(collected)" (in JSON, "collected" is when), and lists
no changes. With PATH, only the changes that changed PATH (or what is
under it) are listed, which a collected entry can no longer tell, so it
is left out; the numbers stay those of the whole log.

example:
  ac-log -n 5
  ac-log --oneline -p root/projects`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o logOpts
			fs.IntVar(&o.n, "n", 0, "show at most `N` entries (0: all); -n5 works too")
			fs.BoolVar(&o.oneline, "oneline", false, "one line an entry: number, time, command")
			fs.BoolVar(&o.patch, "p", false, "list each entry's changes under root/ as A/M/D/C lines")
			fs.BoolVar(&o.asJSON, "json", false, "print as JSON")
			return func(ctx context.Context, args []string) error { return runLog(ctx, e, o, args) }
		},
	}
}

type logOpts struct {
	n              int
	oneline, patch bool
	asJSON         bool
}

func runLog(ctx context.Context, e *Env, o logOpts, args []string) error {
	if err := nargs(args, 0, 1); err != nil {
		return err
	}
	if o.n < 0 {
		return usagef("-n %d: want 0 (all) or more", o.n)
	}
	path := ""
	if len(args) == 1 {
		var err error
		if path, err = treePath(args[0]); err != nil {
			return err
		}
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
	if path, err = friendPath(ctx, h, path); err != nil {
		return err
	}
	given, err := h.Given()
	if err != nil {
		return err
	}
	t := h.Tree(cid.Undef)
	var rows []logRow
	for i, l := range log {
		if o.n > 0 && len(rows) == o.n {
			break
		}
		run, err := given.Of(ctx, l.Old)
		if run == nil && err == nil {
			run, err = given.Of(ctx, l.New) // ac-init's, whose Old is none
		}
		if err != nil {
			return err
		}
		if path != "" && (run != nil || !changedAt(ctx, t, l.Old, l.New, path)) {
			continue // what a collected entry changed can no longer be told
		}
		r := logRow{N: i + 1, Time: l.Time.UTC().Format(time.RFC3339Nano), Command: l.Command, New: l.New.String(), at: l.Time}
		if l.Old.Defined() {
			r.Old = l.Old.String()
		}
		if run != nil {
			r.Collected = run.Time.UTC().Format(time.RFC3339)
		}
		if o.patch && run == nil {
			if r.Changes, err = entryChanges(ctx, t, l.Old, l.New, path); err != nil {
				return err
			}
		}
		rows = append(rows, r)
	}
	if o.asJSON {
		if rows == nil {
			rows = []logRow{}
		}
		return writeJSON(e, rows)
	}
	for _, r := range rows {
		when := r.at.Local().Format("2006-01-02 15:04:05")
		collected := ""
		if r.Collected != "" {
			collected = "  (collected)"
		}
		if o.oneline {
			fmt.Fprintf(e.Stdout, "%d  %s  %s%s\n", r.N, when, quote(r.Command), collected)
		} else {
			old := r.Old
			if old == "" {
				old = "-"
			}
			fmt.Fprintf(e.Stdout, "%d  %s  %s%s\n    %s -> %s\n", r.N, when, quote(r.Command), collected, old, r.New)
		}
		for _, c := range r.Changes {
			fmt.Fprintf(e.Stdout, "    %s %s\n", c.letter, quote(c.Path))
		}
	}
	return nil
}

type logRow struct {
	N       int    `json:"n"`
	Time    string `json:"time"`
	Command string `json:"command"`
	Old     string `json:"old,omitempty"`
	New     string `json:"new"`
	// Collected is when ac-gc gave back the tree before the entry
	// (what ac-restore --at N takes), or after it, if it did.
	Collected string       `json:"collected,omitempty"`
	Changes   []changeJSON `json:"changes,omitempty"`
	at        time.Time
}

// changedAt reports whether the entry at path (or anything under it)
// differs between the roots old and new.
func changedAt(ctx context.Context, t *tree.Tree, old, new cid.Cid, path string) bool {
	at := func(root cid.Cid) string {
		if !root.Defined() {
			return ""
		}
		e, err := t.Lookup(ctx, root, path)
		if err != nil {
			return "" // not there (or not readable): as if absent
		}
		return string(schema.EncodeEntry(&e))
	}
	return at(old) != at(new)
}

// entryChanges lists what changed from old to new under root/ (or under
// path), as A/M/D/C rows, sorted by path; a directory's path ends in "/".
func entryChanges(ctx context.Context, t *tree.Tree, old, new cid.Cid, path string) ([]changeJSON, error) {
	var out []changeJSON
	err := t.Changes(ctx, old, new, func(c tree.Change) error {
		if !home.InRoot(c.Path) || path != "" && c.Path != path && !strings.HasPrefix(c.Path, path+"/") {
			return nil
		}
		p := c.Path
		if c.Old.Kind == schema.KindDirectory || c.New.Kind == schema.KindDirectory {
			p += "/"
		}
		out = append(out, changeJSON{Path: p, What: string(c.What), letter: whatLetter[c.What]})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
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
