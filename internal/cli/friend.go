package cli

import (
	"bytes"
	"context"
	"errors"
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

func cmdFriend() *command {
	return &command{
		usage: "ac-friend add [--as ALIAS] < MESSAGE\nac-friend list [--json]\nac-friend rm NAME|ALIAS|CID",
		help: `Ac-friend add reads an identity reference message (raw or base64) on
stdin, checks its self-signature and stores it at friends/<identity-cid>.
Names are labels, not identities: a newcomer whose name looks like one
already shown (a friend's name or alias, or one of my identities': the
same but for case, Unicode compatibility forms, combining marks,
invisible characters or look-alike letters such as Cyrillic "а") is
refused, unless --as gives it an alias of my own, itself checked the
same way, kept at aliases/ALIAS. --as with a friend already held
changes the alias.

Ac-friend list shows each friend's name, alias ("-" if none) and a short
form of its identity CID (the full CID too with --json), so that two
friends are always told apart. Ac-friend rm removes a friend by name,
alias or CID, with the friend's alias and node reference (nodes/<id>):
what a non-friend published is not trusted. To take a friend back, add
her again and take her node in with ac-node add.

example:
  ac-message ref identities/alice | base64 -w0 > alice.id   # alice's side
  ac-friend add < alice.id                                   # bob's side
  ac-friend add --as alice-work < alice2.id                  # another "alice"
  ac-friend list`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			asJSON := fs.Bool("json", false, "list as JSON")
			alias := fs.String("as", "", "add the friend under `ALIAS`, a name of my own for it")
			return func(ctx context.Context, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand: add, list or rm")
				}
				if *alias != "" && args[0] != "add" {
					return usagef("--as goes with add")
				}
				switch args[0] {
				case "add":
					if err := nargs(args[1:], 0, 0); err != nil {
						return err
					}
					return friendAdd(ctx, e, *alias)
				case "list":
					if err := nargs(args[1:], 0, 0); err != nil {
						return err
					}
					return friendList(ctx, e, *asJSON)
				case "rm":
					if err := nargs(args[1:], 1, 1); err != nil {
						return err
					}
					return friendRm(ctx, e, args[1])
				}
				return usagef("unknown subcommand %q: want add, list or rm", args[0])
			}
		},
	}
}

type friend struct {
	Name     string `json:"name"`
	Alias    string `json:"alias,omitempty"`
	Short    string `json:"short"`
	Identity string `json:"identity"`
	id       cid.Cid
	node     *schema.Identity
}

// label is how a line of output names the friend: the name, and the
// alias if there is one.
func (f friend) label() string {
	if f.Alias == "" {
		return quote(f.Name)
	}
	return quote(f.Name) + " as " + quote(f.Alias)
}

// friends returns the friends at head, by name, with their aliases.
func friends(ctx context.Context, h *home.Home, head cid.Cid) ([]friend, error) {
	t := h.Tree(cid.Undef)
	ents, err := t.List(ctx, head, home.Friends)
	if err != nil {
		return nil, err
	}
	aliases, err := listAliases(ctx, t, head)
	if err != nil {
		return nil, err
	}
	alias := map[cid.Cid]string{}
	for _, a := range aliases {
		if _, ok := alias[a.Target]; !ok {
			alias[a.Target] = a.Name
		}
	}
	var out []friend
	for _, en := range ents {
		id, err := h.LoadIdentity(ctx, en.Target)
		if err != nil {
			return nil, acerr.E("friends", home.Friends+"/"+en.Name, acerr.Other, err)
		}
		out = append(out, friend{Name: id.Name, Alias: alias[en.Target], Short: short(en.Target),
			Identity: en.Target.String(), id: en.Target, node: id})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listAliases returns the entries of aliases/, none if there is no such
// directory (a home no alias was ever given in).
func listAliases(ctx context.Context, t *tree.Tree, head cid.Cid) ([]schema.Entry, error) {
	ents, err := t.List(ctx, head, home.Aliases)
	if acerr.Is(acerr.NotExist, err) {
		return nil, nil
	}
	return ents, err
}

// A shownName is a name already shown for an identity: a friend's name
// or alias, or one of my identities' names.
type shownName struct {
	name string
	what string // `the friend "alice" (…xxxxxxxxxx)`
	id   cid.Cid
	key  []byte
}

// shownNames returns every name shown for the friends fs and for my
// identities at head.
func shownNames(ctx context.Context, h *home.Home, head cid.Cid, fs []friend) ([]shownName, error) {
	var out []shownName
	for _, f := range fs {
		what := fmt.Sprintf("the friend %q (%s)", f.Name, f.Short)
		out = append(out, shownName{f.Name, what, f.id, f.node.Key})
		if f.Alias != "" {
			what := fmt.Sprintf("the friend %q known as %q (%s)", f.Name, f.Alias, f.Short)
			out = append(out, shownName{f.Alias, what, f.id, f.node.Key})
		}
	}
	mine, err := h.Tree(cid.Undef).List(ctx, head, home.Identities)
	if err != nil {
		return nil, err
	}
	for _, en := range mine {
		id, err := h.LoadIdentity(ctx, en.Target)
		if err != nil {
			return nil, acerr.E("identities", home.Identities+"/"+en.Name, acerr.Other, err)
		}
		out = append(out, shownName{id.Name, fmt.Sprintf("my identity %q (%s)", id.Name, short(en.Target)), en.Target, id.Key})
	}
	return out, nil
}

// lookalike returns the first name of shown that name would be taken
// for, leaving out those shown for identity id or for its key (whoever
// holds the key is that person, under any name).
func lookalike(name string, shown []shownName, id cid.Cid, key []byte) *shownName {
	for i, s := range shown {
		if s.id != id && !bytes.Equal(s.key, key) && policy.ConfusableNames(name, s.name) {
			return &shown[i]
		}
	}
	return nil
}

// checkAlias refuses an alias that is not a clean label, or that looks
// like a name shown for another identity than id.
func checkAlias(alias string, shown []shownName, id cid.Cid) error {
	if err := schema.ValidIdentityName(alias); err != nil {
		return acerr.E("friend add --as", alias, acerr.Invalid, err)
	}
	if alias == "-" {
		return acerr.E("friend add --as", alias, acerr.Invalid, errors.New(`"-" stands for no alias in listings`))
	}
	if s := lookalike(alias, shown, id, nil); s != nil {
		return acerr.E("friend add --as", alias, acerr.Exist,
			fmt.Errorf("the alias %q looks like %s: %w; choose another", alias, s.what, policy.ErrConfusable))
	}
	return nil
}

func friendAdd(ctx context.Context, e *Env, alias string) error {
	msg, err := readParsed(e)
	if err != nil {
		return err
	}
	in, ok := msg.Node.(*schema.Identity)
	if !ok {
		return acerr.E("friend add", "", acerr.Invalid, fmt.Errorf("message carries a %s, not an identity (use ac-node add for nodes)", msg.Node.Kind())).WithCID(msg.NodeCID.String())
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	var known *friend
	added := friend{Name: in.Name, Alias: alias}
	_, err = h.Update(ctx, e.Name, func(old cid.Cid) (cid.Cid, error) {
		known = nil
		if err := policy.Check(ctx, nil, msg.NodeCID, in); err != nil {
			return cid.Undef, err
		}
		fs, err := friends(ctx, h, old)
		if err != nil {
			return cid.Undef, err
		}
		shown, err := shownNames(ctx, h, old, fs)
		if err != nil {
			return cid.Undef, err
		}
		for _, f := range fs {
			if f.id == msg.NodeCID {
				known = &f
			}
		}
		if alias != "" {
			if err := checkAlias(alias, shown, msg.NodeCID); err != nil {
				return cid.Undef, err
			}
		} else if s := lookalike(in.Name, shown, msg.NodeCID, in.Key); s != nil && known == nil {
			return cid.Undef, acerr.E("friend add", "", acerr.Exist,
				fmt.Errorf("%q looks like %s: %w; give the newcomer a name of your own with --as ALIAS", in.Name, s.what, policy.ErrConfusable)).WithCID(msg.NodeCID.String())
		}
		t := h.Tree(cid.Undef)
		head := old
		if known != nil {
			if alias == "" || alias == known.Alias {
				return old, nil
			}
			if head, err = deleteAliases(ctx, t, head, msg.NodeCID); err != nil {
				return cid.Undef, err
			}
		} else {
			if err := h.Store.Put(ctx, msg.NodeCID, msg.Blocks[msg.NodeCID]); err != nil {
				return cid.Undef, err
			}
			head, err = t.Put(ctx, head, home.Friends+"/"+msg.NodeCID.String(), schema.Entry{Kind: schema.KindIdentity, Target: msg.NodeCID})
			if err != nil {
				return cid.Undef, err
			}
		}
		if alias == "" {
			return head, nil
		}
		return t.Put(ctx, head, home.Aliases+"/"+alias, schema.Entry{Kind: schema.KindIdentity, Target: msg.NodeCID})
	})
	if err != nil {
		return err
	}
	switch {
	case known == nil:
		fmt.Fprintf(e.Stdout, "added friend %s (%s)\n", added.label(), msg.NodeCID)
	case alias == "" || alias == known.Alias:
		fmt.Fprintf(e.Stdout, "%s (%s) is already a friend\n", known.label(), msg.NodeCID)
	default:
		fmt.Fprintf(e.Stdout, "friend %s (%s) is now known as %s\n", quote(in.Name), msg.NodeCID, quote(alias))
	}
	return nil
}

// deleteAliases deletes every alias of identity id under head.
func deleteAliases(ctx context.Context, t *tree.Tree, head, id cid.Cid) (cid.Cid, error) {
	aliases, err := listAliases(ctx, t, head)
	if err != nil {
		return cid.Undef, err
	}
	for _, a := range aliases {
		if a.Target == id {
			if head, err = t.Delete(ctx, head, home.Aliases+"/"+a.Name); err != nil {
				return cid.Undef, err
			}
		}
	}
	return head, nil
}

func friendList(ctx context.Context, e *Env, asJSON bool) error {
	h, head, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	fs, err := friends(ctx, h, head)
	if err != nil {
		return err
	}
	if asJSON {
		if fs == nil {
			fs = []friend{}
		}
		return writeJSON(e, fs)
	}
	for _, f := range fs {
		alias := "-"
		if f.Alias != "" {
			alias = quote(f.Alias)
		}
		fmt.Fprintf(e.Stdout, "%s\t%s\t%s\n", quote(f.Name), alias, f.Short)
	}
	return nil
}

func friendRm(ctx context.Context, e *Env, who string) error {
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	var gone friend
	var node string // the node reference removed with the friend, if any
	_, err = h.Update(ctx, e.Name+" rm "+who, func(old cid.Cid) (cid.Cid, error) {
		node = ""
		fs, err := friends(ctx, h, old)
		if err != nil {
			return cid.Undef, err
		}
		var match []friend
		for _, f := range fs {
			if f.Identity == who || f.Name == who || f.Alias == who {
				match = append(match, f)
			}
		}
		switch len(match) {
		case 0:
			return cid.Undef, acerr.E("friend rm", who, acerr.NotExist, nil)
		case 1:
		default:
			return cid.Undef, acerr.E("friend rm", who, acerr.Invalid, fmt.Errorf("%d friends have this name: give the alias or the identity CID", len(match)))
		}
		gone = match[0]
		t := h.Tree(cid.Undef)
		head, err := t.Delete(ctx, old, home.Friends+"/"+gone.Identity)
		if err != nil {
			return cid.Undef, err
		}
		if head, err = deleteAliases(ctx, t, head, gone.id); err != nil {
			return cid.Undef, err
		}
		p := home.Nodes + "/" + gone.Identity
		switch next, err := t.Delete(ctx, head, p); {
		case err == nil:
			node, head = p, next
		case !acerr.Is(acerr.NotExist, err):
			return cid.Undef, err
		}
		return head, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "removed friend %s (%s)\n", gone.label(), gone.Identity)
	if node != "" {
		fmt.Fprintf(e.Stdout, "removed %s\n", node)
	}
	return nil
}
