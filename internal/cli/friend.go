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
	"github.com/ipfs/go-cid"
)

func cmdFriend() *command {
	return &command{
		usage: "ac-friend add < MESSAGE\nac-friend list [--json]\nac-friend rm NAME|CID",
		help: `Ac-friend add reads an identity reference message (raw or base64) on
stdin, checks its self-signature and stores it at friends/<identity-cid>.
Names are labels, not identities: a message that brings a new key under
the name of a known friend is refused.

Ac-friend list shows each friend's name with a short form of its identity
CID (the full CID with --json). Ac-friend rm removes a friend by name or
CID, with the friend's node reference (nodes/<id>): what a non-friend
published is not trusted. ac-restore brings nothing of it back;
befriend again and take the node in with ac-node add.

example:
  ac-message ref identities/alice | base64 -w0 > alice.id   # alice's side
  ac-friend add < alice.id                                   # bob's side
  ac-friend list`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			asJSON := fs.Bool("json", false, "list as JSON")
			return func(ctx context.Context, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand: add, list or rm")
				}
				switch args[0] {
				case "add":
					if err := nargs(args[1:], 0, 0); err != nil {
						return err
					}
					return friendAdd(ctx, e)
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
	Identity string `json:"identity"`
	id       cid.Cid
	node     *schema.Identity
}

func friends(ctx context.Context, h *home.Home, head cid.Cid) ([]friend, error) {
	ents, err := h.Tree(cid.Undef).List(ctx, head, home.Friends)
	if err != nil {
		return nil, err
	}
	var out []friend
	for _, en := range ents {
		id, err := h.LoadIdentity(ctx, en.Target)
		if err != nil {
			return nil, acerr.E("friends", home.Friends+"/"+en.Name, acerr.Other, err)
		}
		out = append(out, friend{Name: id.Name, Identity: en.Target.String(), id: en.Target, node: id})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func friendAdd(ctx context.Context, e *Env) error {
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
	known := false
	_, err = h.Update(ctx, e.Name, func(old cid.Cid) (cid.Cid, error) {
		if err := policy.Check(ctx, nil, msg.NodeCID, in); err != nil {
			return cid.Undef, err
		}
		fs, err := friends(ctx, h, old)
		if err != nil {
			return cid.Undef, err
		}
		for _, f := range fs {
			if f.id == msg.NodeCID {
				known = true
				return old, nil
			}
			if err := policy.MayReplaceFriend(f.node, f.id, in, msg.NodeCID); err != nil {
				return cid.Undef, err
			}
		}
		if err := h.Store.Put(ctx, msg.NodeCID, msg.Blocks[msg.NodeCID]); err != nil {
			return cid.Undef, err
		}
		return h.Tree(cid.Undef).Put(ctx, old, home.Friends+"/"+msg.NodeCID.String(),
			schema.Entry{Kind: schema.KindIdentity, Target: msg.NodeCID})
	})
	if err != nil {
		return err
	}
	if known {
		fmt.Fprintf(e.Stdout, "%s (%s) is already a friend\n", in.Name, msg.NodeCID)
		return nil
	}
	fmt.Fprintf(e.Stdout, "added friend %s (%s)\n", in.Name, msg.NodeCID)
	return nil
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
		fmt.Fprintf(e.Stdout, "%s\t%s\n", f.Name, short(f.id))
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
			if f.Identity == who || f.Name == who {
				match = append(match, f)
			}
		}
		switch len(match) {
		case 0:
			return cid.Undef, acerr.E("friend rm", who, acerr.NotExist, nil)
		case 1:
		default:
			return cid.Undef, acerr.E("friend rm", who, acerr.Invalid, fmt.Errorf("%d friends have this name: give the identity CID", len(match)))
		}
		gone = match[0]
		t := h.Tree(cid.Undef)
		head, err := t.Delete(ctx, old, home.Friends+"/"+gone.Identity)
		if err != nil {
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
	fmt.Fprintf(e.Stdout, "removed friend %s (%s)\n", quote(gone.Name), gone.Identity)
	if node != "" {
		fmt.Fprintf(e.Stdout, "removed %s\n", node)
	}
	return nil
}
