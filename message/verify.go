package message

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// carried resolves the one identity a message carries, its owner's. It
// does no I/O.
type carried struct {
	c  cid.Cid
	id *schema.Identity
}

func (r carried) Identity(_ context.Context, c cid.Cid) (*schema.Identity, error) {
	if c.Equals(r.c) {
		return r.id, nil
	}
	return nil, acerr.E("", "", acerr.NotExist, fmt.Errorf("identity %s is not in the message", c))
}

// verify checks everything that relates the fields of a syntactically
// valid envelope, in an order that names the first thing that fails.
func verify(env *Envelope, f *envFields) (*Message, error) {
	keys := make([]cid.Cid, 0, len(f.blocks))
	for c := range f.blocks {
		keys = append(keys, c)
	}
	slices.SortFunc(keys, func(a, b cid.Cid) int { return strings.Compare(a.KeyString(), b.KeyString()) })
	for _, c := range keys {
		if got := schema.Sum(f.blocks[c]); !got.Equals(c) {
			return nil, acerr.E("", "", acerr.Integrity, fmt.Errorf("block %s: bytes hash to %s", c, got))
		}
	}

	nodeData, ok := f.blocks[f.node]
	if !ok {
		return nil, invalid("the node's block %s is missing", f.node)
	}
	node, err := schema.Decode(nodeData)
	if err != nil {
		return nil, fmt.Errorf("node block: %w", err)
	}
	if node.Kind() != env.Policy {
		return nil, invalid("the node is %s but the policy field says %s", node.Kind(), env.Policy)
	}
	var owner cid.Cid
	var seq uint64
	switch n := node.(type) {
	case *schema.Identity:
		owner = f.node
	case *schema.Node:
		owner, seq = n.Owner, n.Seq
	case *schema.Directory:
		if !n.Owned() {
			return nil, invalid("a shared directory_v1 is not signed; only signed nodes travel in messages")
		}
		owner, seq = n.Owner, n.Seq
	}
	if !owner.Equals(f.owner) {
		return nil, invalid("the node's owner is %s but the owner field says %s", owner, f.owner)
	}
	ownerData, ok := f.blocks[f.owner]
	if !ok {
		return nil, invalid("the owner's block %s is missing", f.owner)
	}
	id, err := schema.DecodeAs[*schema.Identity](ownerData)
	if err != nil {
		return nil, fmt.Errorf("owner block: %w", err)
	}
	// The resolver knows only the carried owner and does no I/O, so no
	// caller's context is needed.
	ctx := context.Background()
	r := carried{f.owner, id}
	if err := policy.Check(ctx, r, f.owner, id); err != nil {
		return nil, err
	}
	if env.Name != id.Name {
		return nil, invalid("the name field %q is not the owner's name %q", clip(env.Name), id.Name)
	}
	if !bytes.Equal(f.sig, node.(schema.Signed).Signature()) {
		return nil, acerr.E("", "", acerr.Signature, errors.New("the signature field is not the node's signature"))
	}
	if env.Seq != seq {
		return nil, invalid("the seq field %d is not the node's seq %d", env.Seq, seq)
	}
	if !f.node.Equals(f.owner) {
		if err := policy.Check(ctx, r, f.node, node); err != nil {
			return nil, err
		}
	}

	reached := map[cid.Cid]bool{f.node: true, f.owner: true}
	if env.Kind == KindContent {
		if err := walk(node, f.blocks, reached); err != nil {
			return nil, err
		}
	}
	for _, c := range keys {
		if reached[c] {
			continue
		}
		if env.Kind == KindReference {
			return nil, invalid("block %s is neither the node nor its owner; a reference carries only those", c)
		}
		return nil, invalid("block %s is not reachable from the node's directory structure", c)
	}
	return &Message{Envelope: *env, NodeCID: f.node, Node: node, OwnerCID: f.owner, Owner: id, Blocks: f.blocks}, nil
}

// walk follows the directory structure under node through blocks, which
// must hold all of it, and marks what it reaches. Each block is decoded
// and checked for structure; its owner's signature, when it has one, is
// for policy.Check to judge when a merge reaches it.
func walk(node schema.Object, blocks map[cid.Cid][]byte, reached map[cid.Cid]bool) error {
	visited := map[cid.Cid]bool{}
	queue := structure(node)
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		if visited[l.c] {
			continue
		}
		visited[l.c] = true
		data, ok := blocks[l.c]
		if !ok {
			return invalid("the content lacks block %s, %s under the node", l.c, l.kind.Noun())
		}
		n, err := schema.Decode(data)
		if err != nil {
			return fmt.Errorf("block %s: %w", l.c, err)
		}
		if n.Kind() != l.kind {
			return invalid("block %s is linked as %s but is %s", l.c, l.kind.Noun(), n.Kind().Noun())
		}
		if err := policy.CheckStructure(l.c, n); err != nil {
			return err
		}
		reached[l.c] = true
		queue = append(queue, structure(n)...)
	}
	return nil
}
