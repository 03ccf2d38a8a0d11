package home

import (
	"context"
	"fmt"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/message"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// MessageKind is what a message made by Message carries.
type MessageKind string

const (
	// Reference is a signed reference to a node, with its owner's
	// identity, verifiable from the message alone.
	Reference MessageKind = "ref"
	// Content is a node and the directory blocks under it, when they fit.
	Content MessageKind = "content"
)

// Message makes a message of kind about the node at p (an identity, a
// node, an owned directory) at the current HEAD. A shared directory or a
// file is not signed, and is refused: send the node that links it.
func (h *Home) Message(ctx context.Context, kind MessageKind, p string) ([]byte, error) {
	op := "message " + string(kind)
	head, err := h.Get()
	if err != nil {
		return nil, err
	}
	ent, err := h.Tree(cid.Undef).Lookup(ctx, head, p)
	if err != nil {
		return nil, err
	}
	if ent.Kind == schema.KindFile {
		return nil, acerr.E(op, p, acerr.Invalid, fmt.Errorf("is a file: messages carry nodes; share the directory that holds it"))
	}
	block, err := h.Store.Get(ctx, ent.Target)
	if err != nil {
		return nil, err
	}
	n, err := schema.Decode(block)
	if err != nil {
		return nil, err
	}
	var owner cid.Cid
	switch n := n.(type) {
	case *schema.Identity:
		owner = ent.Target
	case *schema.Node:
		owner = n.Owner
	case *schema.Directory:
		owner = n.Owner
	}
	var ownerBlock []byte
	if owner.Defined() {
		if ownerBlock, err = h.Store.Get(ctx, owner); err != nil {
			return nil, err
		}
	}
	if ownerBlock == nil {
		return nil, acerr.E(op, p, acerr.Invalid, fmt.Errorf("a shared directory is not signed: send the node that links it (ac-message %s node)", kind))
	}
	if kind == Reference {
		return message.NewReference(block, ownerBlock)
	}
	return message.NewContent(ctx, h.Store.Get, ent.Target, ownerBlock)
}
