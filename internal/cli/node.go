package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/message"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// addrList is a repeatable --addr flag.
type addrList []string

func (a *addrList) String() string     { return strings.Join(*a, ",") }
func (a *addrList) Set(s string) error { *a = append(*a, s); return nil }

func cmdNode() *command {
	return &command{
		usage: "ac-node new PATH identities/NAME [--addr HOST:PORT]...\nac-node add < MESSAGE",
		help: `Ac-node new publishes my node at PATH (usually "node"): a node_v1 that
links the current root/, signed by the identity identities/NAME, with a
seq one higher than the node it replaces. --addr records where ac-receive
listens. Publish again after changing root/.

Ac-node add reads a friend's node reference message (raw or base64) on
stdin and stores it at nodes/<identity-cid>. It is accepted only if it is
signed by a friend and newer than the one held: an older or replayed
reference is refused, and nothing changes.

example:
  ac-node new node identities/alice --addr 127.0.0.1:7070
  ac-message ref node | base64 -w0 > alice.ref     # send this to friends
  ac-node add < alice.ref                           # on the friend's side`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var addrs addrList
			fs.Var(&addrs, "addr", "an address `HOST:PORT` where ac-receive listens (repeatable)")
			passFile := fs.String("passphrase-file", "", "read the passphrase of a sealed key from `file`")
			return func(ctx context.Context, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand: new or add")
				}
				switch args[0] {
				case "new":
					if err := nargs(args[1:], 2, 2); err != nil {
						return err
					}
					pass, err := e.passphrase(*passFile)
					if err != nil {
						return err
					}
					return nodeNew(ctx, e, args[1], args[2], addrs, pass)
				case "add":
					if err := nargs(args[1:], 0, 0); err != nil {
						return err
					}
					return nodeAdd(ctx, e)
				}
				return usagef("unknown subcommand %q: want new or add", args[0])
			}
		},
	}
}

func nodeNew(ctx context.Context, e *Env, nodeArg, idArg string, addrs []string, pass []byte) error {
	p, err := treePath(nodeArg)
	if err != nil {
		return err
	}
	idPath, err := treePath(idArg)
	if err != nil {
		return err
	}
	if p == "" {
		return usagef("%q: not a node path; use a name such as %q", nodeArg, home.Node)
	}
	for _, d := range []string{home.Root, home.Identities, home.Friends, home.Aliases, home.Nodes} {
		if strings.HasPrefix(p+"/", d+"/") {
			return usagef("%s: a node cannot live inside %s/", nodeArg, d)
		}
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	var node *schema.NodeRef
	var nodeCID cid.Cid
	_, err = h.Update(ctx, e.Name+" new "+p, func(old cid.Cid) (cid.Cid, error) {
		t := h.Tree(cid.Undef)
		idEnt, err := t.Lookup(ctx, old, idPath)
		if err != nil {
			return cid.Undef, err
		}
		if idEnt.Kind != schema.KindIdentity {
			return cid.Undef, acerr.E("node new", idPath, acerr.Invalid, fmt.Errorf("is a %s, not an identity", idEnt.Kind))
		}
		priv, err := h.Keys.Load(idEnt.Target, pass)
		if err != nil {
			return cid.Undef, err
		}
		root, err := t.Lookup(ctx, old, home.Root)
		if err != nil {
			return cid.Undef, err
		}
		node = &schema.NodeRef{Owner: idEnt.Target, Seq: 1, Root: root.Target, Addrs: addrs, Created: h.Now().Unix()}
		if prevEnt, err := t.Lookup(ctx, old, p); err == nil {
			prevNode, err := h.LoadNode(ctx, prevEnt.Target)
			if err != nil {
				return cid.Undef, err
			}
			prev, ok := prevNode.(*schema.NodeRef)
			if !ok {
				return cid.Undef, acerr.E("node new", p, acerr.Exist, fmt.Errorf("holds a %s", prevNode.Kind()))
			}
			if prev.Owner != node.Owner {
				return cid.Undef, acerr.E("node new", p, acerr.Permission, fmt.Errorf("is owned by identity %s", short(prev.Owner)))
			}
			node.Seq, node.Prev = prev.Seq+1, prevEnt.Target
			if len(addrs) == 0 {
				node.Addrs = prev.Addrs
			}
		} else if !acerr.Is(acerr.NotExist, err) {
			return cid.Undef, err
		}
		identity.Sign(priv, node)
		var block []byte
		nodeCID, block = schema.Block(node)
		if err := h.Store.Put(ctx, nodeCID, block); err != nil {
			return cid.Undef, err
		}
		return h.Tree(node.Owner).Put(ctx, old, p, schema.Entry{Kind: schema.KindNode, Target: nodeCID})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s seq %d root %s\n", nodeCID, node.Seq, node.Root)
	return nil
}

// readMessage reads a message from stdin: at most message.MaxInput
// bytes, and longer input is refused with the limit stated.
func readMessage(e *Env) ([]byte, error) {
	return readStdin(e, message.ReadInput)
}

// readParsed reads a message from stdin and verifies it.
func readParsed(e *Env) (*message.Message, error) {
	data, err := readMessage(e)
	if err != nil {
		return nil, err
	}
	return message.Parse(data)
}

func nodeAdd(ctx context.Context, e *Env) error {
	msg, err := readParsed(e)
	if err != nil {
		return err
	}
	in, ok := msg.Node.(*schema.NodeRef)
	if !ok {
		return acerr.E("node add", "", acerr.Invalid, fmt.Errorf("message carries %s, not a node_v1 (use ac-friend add for identities)", msg.Node.Kind())).WithCID(msg.NodeCID.String())
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	p := home.Nodes + "/" + in.Owner.String()
	changed := false
	owner := quote(msg.Owner.Name)
	_, err = h.Update(ctx, e.Name, func(old cid.Cid) (cid.Cid, error) {
		t := h.Tree(cid.Undef)
		if err := policy.Check(ctx, h.Trust(old), msg.NodeCID, in); err != nil {
			return cid.Undef, err
		}
		fs, err := friends(ctx, h, old)
		if err != nil {
			return cid.Undef, err
		}
		for _, f := range fs {
			if f.id == in.Owner {
				owner = f.label()
			}
		}
		if heldEnt, err := t.Lookup(ctx, old, p); err == nil {
			heldNode, err := h.LoadNode(ctx, heldEnt.Target)
			if err != nil {
				return cid.Undef, err
			}
			held, ok := heldNode.(*schema.NodeRef)
			if !ok {
				return cid.Undef, acerr.E("node add", p, acerr.Integrity, fmt.Errorf("holds a %s", heldNode.Kind()))
			}
			newer, err := policy.Newer(held, heldEnt.Target, in, msg.NodeCID)
			if err != nil {
				return cid.Undef, acerr.E("node add", p, acerr.Other, err)
			}
			if !newer {
				return old, nil
			}
		} else if !acerr.Is(acerr.NotExist, err) {
			return cid.Undef, err
		}
		for c, b := range msg.Blocks {
			if err := h.Store.Put(ctx, c, b); err != nil {
				return cid.Undef, err
			}
		}
		changed = true
		return t.Put(ctx, old, p, schema.Entry{Kind: schema.KindNode, Target: msg.NodeCID})
	})
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(e.Stdout, "%s: already up to date (seq %d)\n", p, in.Seq)
		return nil
	}
	fmt.Fprintf(e.Stdout, "%s: %s seq %d root %s\n", p, owner, in.Seq, in.Root)
	return nil
}
