package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/schema"
)

func cmdStatus() *command {
	return &command{
		usage: "ac-status [--json]",
		help: `Ac-status says where the home stands, as git status does: whether my
published node is behind root/ (and what changed since, as A/M/D/C
lines), friends whose node is held but not merged (or whose tree is not
here yet), the open conflicts (every conflict copy under root/), the
files under root/ whose content is not held (and who made them), and the
size of the store. It changes nothing.

example:
  ac-status`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o statusOpts
			fs.BoolVar(&o.asJSON, "json", false, "print as JSON")
			return func(ctx context.Context, args []string) error { return runStatus(ctx, e, o, args) }
		},
	}
}

type statusOpts struct{ asJSON bool }

type statusJSON struct {
	Head       string              `json:"head"`
	Node       *statusNodeJSON     `json:"node,omitempty"`
	Friends    []statusFriendJSON  `json:"friends"`
	Conflicts  []string            `json:"conflicts"`
	Missing    []statusMissingJSON `json:"missing_content"`
	StoreBytes *int64              `json:"store_bytes,omitempty"`
}

type statusMissingJSON struct {
	Path string `json:"path"`
	From string `json:"from,omitempty"` // the identity CID of a friend whose tree holds it
}

type statusNodeJSON struct {
	Seq     uint64       `json:"seq"`
	Root    string       `json:"root"`
	Behind  bool         `json:"behind"`
	Changes []changeJSON `json:"changes,omitempty"`
}

type statusFriendJSON struct {
	Name     string `json:"name"`
	Alias    string `json:"alias,omitempty"`
	Identity string `json:"identity"`
	Seq      uint64 `json:"seq"`
	Merged   bool   `json:"merged"`
	TreeHere bool   `json:"tree_here"`
	Problem  string `json:"problem,omitempty"`
}

func runStatus(ctx context.Context, e *Env, o statusOpts, args []string) error {
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	st, err := h.Status(ctx)
	if err != nil {
		return err
	}
	if o.asJSON {
		j := statusJSON{Head: st.Head.String(), Friends: []statusFriendJSON{}, Conflicts: append([]string{}, st.Conflicts...), Missing: []statusMissingJSON{}}
		if n := st.Node; n != nil {
			j.Node = &statusNodeJSON{Seq: n.Seq, Root: n.Root.String(), Behind: n.Behind}
			for _, c := range n.Changes {
				j.Node.Changes = append(j.Node.Changes, changeJSON{Path: c.Path, What: string(c.What)})
			}
		}
		for _, f := range st.Friends {
			j.Friends = append(j.Friends, statusFriendJSON{f.Friend.Name, f.Friend.Alias, f.Friend.ID.String(), f.Seq, f.Merged, f.TreeHere, f.Problem})
		}
		for _, m := range st.Missing {
			r := statusMissingJSON{Path: m.Path}
			if m.From != nil {
				r.From = m.From.ID.String()
			}
			j.Missing = append(j.Missing, r)
		}
		if st.StoreBytes >= 0 {
			j.StoreBytes = &st.StoreBytes
		}
		return writeJSON(e, j)
	}

	w := e.Stdout
	fmt.Fprintf(w, "HEAD %s\n", st.Head)
	switch n := st.Node; {
	case n == nil:
		fmt.Fprintln(w, "no node published (ac-node new node identities/NAME)")
	case !n.Behind:
		fmt.Fprintf(w, "my node: seq %d, up to date with root/\n", n.Seq)
	default:
		fmt.Fprintf(w, "my node: seq %d, behind root/ by %d changes (publish them with ac-node new node identities/NAME):\n", n.Seq, len(n.Changes))
		for _, c := range n.Changes {
			p := c.Path
			if c.Old.Kind == schema.KindDirectory || c.New.Kind == schema.KindDirectory {
				p += "/"
			}
			fmt.Fprintf(w, "  %s %s\n", whatLetter[c.What], quote(p))
		}
	}
	if len(st.Friends) > 0 {
		fmt.Fprintln(w, "friends' nodes:")
		for _, f := range st.Friends {
			state := "merged"
			switch {
			case f.Problem != "":
				state = "refused: " + f.Problem
			case !f.TreeHere:
				state = "tree not here (take their CAR in with ac-import, or use --api)"
			case !f.Merged:
				state = "not merged (ac-merge-all)"
			}
			fmt.Fprintf(w, "  %s seq %d: %s\n", label(f.Friend), f.Seq, oneLine(state))
		}
	}
	if len(st.Conflicts) > 0 {
		fmt.Fprintf(w, "conflicts (%d; keep one version: ac-delete the copy, or change the name):\n", len(st.Conflicts))
		for _, p := range st.Conflicts {
			fmt.Fprintf(w, "  C %s\n", quote(p))
		}
	}
	if len(st.Missing) > 0 {
		fmt.Fprintf(w, "content not held (%d files; ac-import their CAR, or use --api):\n", len(st.Missing))
		for _, m := range st.Missing {
			from := ""
			if m.From != nil {
				from = " (from " + label(*m.From) + ")"
			}
			fmt.Fprintf(w, "  %s%s\n", quote(m.Path), from)
		}
	}
	if st.StoreBytes >= 0 {
		fmt.Fprintf(w, "store: %s\n", bytesText(st.StoreBytes))
	}
	return nil
}
