package home

import (
	"context"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/message"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Published is the node Publish made.
type Published struct {
	Node *schema.Node
	CID  cid.Cid
}

// Publish publishes my node at p (usually "node"): a node_v1 that links
// the current root/, signed by the identity at idPath (identities/NAME),
// with a seq one higher than the node it replaces and, when addrs is
// empty, that node's addresses. A node lives outside the top-level
// directories.
func (h *Home) Publish(ctx context.Context, p, idPath string, addrs []string, cmd string) (Published, error) {
	if err := NodePath(p); err != nil {
		return Published{}, acerr.E("node new", p, acerr.Invalid, err)
	}
	var res Published
	_, err := h.Update(ctx, command(cmd, "node new "+p), func(old cid.Cid) (cid.Cid, error) {
		res = Published{}
		t := h.Tree(cid.Undef)
		idEnt, err := t.Lookup(ctx, old, idPath)
		if err != nil {
			return cid.Undef, err
		}
		if idEnt.Kind != schema.KindIdentity {
			return cid.Undef, acerr.E("node new", idPath, acerr.Invalid, fmt.Errorf("is %s, not an identity", idEnt.Kind.Noun()))
		}
		root, err := t.Lookup(ctx, old, Root)
		if err != nil {
			return cid.Undef, err
		}
		node := &schema.Node{Owner: idEnt.Target, Seq: 1, Root: root.Target, Addrs: addrs, Created: h.Now().Unix()}
		if prevEnt, err := t.Lookup(ctx, old, p); err == nil {
			prevNode, err := h.LoadNode(ctx, prevEnt.Target)
			if err != nil {
				return cid.Undef, err
			}
			prev, ok := prevNode.(*schema.Node)
			if !ok {
				return cid.Undef, acerr.E("node new", p, acerr.Exist, fmt.Errorf("holds %s", prevNode.Kind().Noun()))
			}
			if prev.Owner != node.Owner {
				return cid.Undef, acerr.E("node new", p, acerr.Permission, fmt.Errorf("is owned by identity %s", shortID(prev.Owner)))
			}
			node.Seq, node.Prev = prev.Seq+1, prevEnt.Target
			if len(addrs) == 0 {
				node.Addrs = prev.Addrs
			}
		} else if !acerr.Is(acerr.NotExist, err) {
			return cid.Undef, err
		}
		if err := h.keys().Sign(idEnt.Target, node); err != nil {
			return cid.Undef, err
		}
		nodeCID, block := schema.Block(node)
		if err := h.Store.Put(ctx, nodeCID, block); err != nil {
			return cid.Undef, err
		}
		res = Published{Node: node, CID: nodeCID}
		return h.Tree(node.Owner).Put(ctx, old, p, schema.Entry{Kind: schema.KindNode, Target: nodeCID})
	})
	return res, err
}

// NodePath says whether my node may be published at p: anywhere but at
// the top of the tree database or inside its top-level directories.
func NodePath(p string) error {
	if p == "" {
		return fmt.Errorf("not a node path; use a name such as %q", Node)
	}
	for _, d := range []string{Root, Identities, Friends, Aliases, Nodes} {
		if strings.HasPrefix(p+"/", d+"/") {
			return fmt.Errorf("a node cannot live inside %s/", d)
		}
	}
	return nil
}

// Accepted is what AcceptNode did.
type Accepted struct {
	Path  string // nodes/<owner-id>
	Node  *schema.Node
	Owner Friend // who published it
	New   bool   // false: the held node was as new, nothing changed
}

// AcceptNode takes in a friend's node that a reference message carries,
// at nodes/<owner-id>: only if it is signed by a friend (or me) and newer
// than the one held (policy.Newer); an older or replayed one changes
// nothing.
func (h *Home) AcceptNode(ctx context.Context, msg *message.Message, cmd string) (Accepted, error) {
	in, ok := msg.Node.(*schema.Node)
	if !ok {
		return Accepted{}, acerr.E("node add", "", acerr.Invalid, fmt.Errorf("message carries %s, not a published node (use ac-friend add for identities)", msg.Node.Kind().Noun())).WithCID(msg.NodeCID.String())
	}
	p := Nodes + "/" + in.Owner.String()
	var res Accepted
	_, err := h.Update(ctx, command(cmd, "node add"), func(old cid.Cid) (cid.Cid, error) {
		res = Accepted{Path: p, Node: in, Owner: Friend{Name: msg.Owner.Name, ID: in.Owner, Identity: msg.Owner}}
		t := h.Tree(cid.Undef)
		if err := policy.Check(ctx, h.Trust(old), msg.NodeCID, in); err != nil {
			return cid.Undef, err
		}
		fs, err := h.Friends(ctx, old)
		if err != nil {
			return cid.Undef, err
		}
		for _, f := range fs {
			if f.ID == in.Owner {
				res.Owner = f
			}
		}
		if heldEnt, err := t.Lookup(ctx, old, p); err == nil {
			heldNode, err := h.LoadNode(ctx, heldEnt.Target)
			if err != nil {
				return cid.Undef, err
			}
			held, ok := heldNode.(*schema.Node)
			if !ok {
				return cid.Undef, acerr.E("node add", p, acerr.Integrity, fmt.Errorf("holds %s", heldNode.Kind().Noun()))
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
		res.New = true
		return t.Put(ctx, old, p, schema.Entry{Kind: schema.KindNode, Target: msg.NodeCID})
	})
	return res, err
}
