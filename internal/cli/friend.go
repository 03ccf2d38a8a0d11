package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

func cmdFriend() *command {
	return &command{
		usage: "ac-friend add [--as ALIAS] < MESSAGE\nac-friend list [--json]\nac-friend rm NAME|ALIAS|CID",
		help: `Ac-friend add reads an identity reference message (raw, base64 or
armoured, a saved mail too) on
stdin, checks its self-signature and stores it at friends/<identity-cid>.
Names are labels, not identities: a newcomer whose name looks like one
already shown (a friend's name or alias, or one of my identities': the
same but for case, Unicode compatibility forms, combining marks,
invisible characters or look-alike letters such as Cyrillic "а") is
refused, unless --as gives it an alias of my own, itself checked the
same way, kept at aliases/ALIAS. --as with a friend already held
changes the alias.

Ac-friend list shows each friend's name, alias ("-" if none), a short
form of its identity CID (the full CID too with --json), so that two
friends are always told apart, and the seq and time of the newest node
of theirs held ("-" if none), saying so when its tree is not here yet.
Ac-friend rm removes a friend by name, alias, CID or a part of the CID
no other friend's has there (its start, or its end as listed: …xyz),
with the friend's alias and node reference (nodes/<id>):
what a non-friend published is not trusted. To take a friend back, add
her again and take her node in with ac-node add.

example:
  ac-message ref --armor identities/alice > alice.id   # alice's side
  ac-friend add < alice.id                                   # bob's side
  ac-friend add --as alice-work < alice2.id                  # another "alice"
  ac-friend list`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o friendOpts
			fs.BoolVar(&o.asJSON, "json", false, "list as JSON")
			fs.StringVar(&o.alias, "as", "", "add the friend under `ALIAS`, a name of my own for it")
			return func(ctx context.Context, args []string) error { return runFriend(ctx, e, o, args) }
		},
	}
}

type friendOpts struct {
	asJSON bool
	alias  string
}

func runFriend(ctx context.Context, e *Env, o friendOpts, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: add, list or rm")
	}
	if o.alias != "" && args[0] != "add" {
		return usagef("--as goes with add")
	}
	switch args[0] {
	case "add":
		if err := nargs(args[1:], 0, 0); err != nil {
			return err
		}
		return friendAdd(ctx, e, o.alias)
	case "list":
		if err := nargs(args[1:], 0, 0); err != nil {
			return err
		}
		return friendList(ctx, e, o.asJSON)
	case "rm":
		if err := nargs(args[1:], 1, 1); err != nil {
			return err
		}
		return friendRm(ctx, e, args[1])
	}
	return usagef("unknown subcommand %q: want add, list or rm", args[0])
}

// friendRow is a friend as ac-friend list --json shows it.
type friendRow struct {
	Name     string    `json:"name"`
	Alias    string    `json:"alias,omitempty"`
	Short    string    `json:"short"`
	Identity string    `json:"identity"`
	Node     *nodeInfo `json:"node,omitempty"` // the newest node of theirs held, if any
}

// nodeInfo is what a friend list says of a friend's newest node held.
type nodeInfo struct {
	Seq      uint64 `json:"seq"`
	Created  string `json:"created"`
	Root     string `json:"root"`
	RootHere bool   `json:"root_here"` // whether the store holds its root directory
	created  time.Time
}

// label is how a line of output names the friend: the name, and the
// alias if there is one.
func label(f home.Friend) string {
	if f.Alias == "" {
		return quote(f.Name)
	}
	return quote(f.Name) + " as " + quote(f.Alias)
}

func friendAdd(ctx context.Context, e *Env, alias string) error {
	msg, err := readParsed(ctx, e)
	if err != nil {
		return err
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	what := e.Name + " add " + sender(msg)
	if alias != "" {
		what += " --as " + alias
	}
	r, err := h.Befriend(ctx, msg, alias, what)
	if err != nil {
		return err
	}
	switch {
	case !r.Known:
		fmt.Fprintf(e.Stdout, "added friend %s (%s)\n", label(r.Friend), r.Friend.ID)
	case !r.AliasSet:
		fmt.Fprintf(e.Stdout, "%s (%s) is already a friend\n", label(r.Friend), r.Friend.ID)
	default:
		fmt.Fprintf(e.Stdout, "friend %s (%s) is now known as %s\n", quote(r.Friend.Name), r.Friend.ID, quote(r.Friend.Alias))
	}
	return nil
}

func friendList(ctx context.Context, e *Env, asJSON bool) error {
	h, head, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	fs, err := h.Friends(ctx, head)
	if err != nil {
		return err
	}
	rows := []friendRow{}
	t := h.Tree(cid.Undef)
	for _, f := range fs {
		r := friendRow{Name: f.Name, Alias: f.Alias, Short: short(f.ID), Identity: f.ID.String()}
		if en, err := t.Lookup(ctx, head, home.Nodes+"/"+f.ID.String()); err == nil {
			if n, err := h.LoadNode(ctx, en.Target); err == nil {
				if node, ok := n.(*schema.Node); ok {
					here, err := h.Store.Has(ctx, node.Root)
					if err != nil {
						return err
					}
					at := time.Unix(node.Created, 0)
					r.Node = &nodeInfo{Seq: node.Seq, Created: at.UTC().Format(time.RFC3339), Root: node.Root.String(), RootHere: here, created: at}
				}
			}
		}
		rows = append(rows, r)
	}
	if asJSON {
		return writeJSON(e, rows)
	}
	for _, f := range rows {
		alias := "-"
		if f.Alias != "" {
			alias = quote(f.Alias)
		}
		node := "-"
		if n := f.Node; n != nil {
			node = fmt.Sprintf("seq %d of %s", n.Seq, n.created.Local().Format("2006-01-02 15:04:05"))
			if !n.RootHere {
				node += " (its tree is not here: take their CAR in with ac-import)"
			}
		}
		fmt.Fprintf(e.Stdout, "%s\t%s\t%s\t%s\n", quote(f.Name), alias, f.Short, node)
	}
	return nil
}

func friendRm(ctx context.Context, e *Env, who string) error {
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	r, err := h.Unfriend(ctx, who, e.Name+" rm "+who)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "removed friend %s (%s)\n", label(r.Friend), r.Friend.ID)
	if r.Node != "" {
		fmt.Fprintf(e.Stdout, "removed %s\n", r.Node)
	}
	return nil
}
