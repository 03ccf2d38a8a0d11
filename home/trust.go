package home

import (
	"context"
	"errors"
	"fmt"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// LoadNode reads and decodes the node with CID c.
func (h *Home) LoadNode(ctx context.Context, c cid.Cid) (schema.Object, error) {
	data, err := h.Store.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	n, err := schema.Decode(data)
	if err != nil {
		return nil, acerr.E("home.LoadNode", "", acerr.Other, err).WithCID(c.String())
	}
	return n, nil
}

// LoadIdentity reads an identity node and checks its self-signature.
func (h *Home) LoadIdentity(ctx context.Context, c cid.Cid) (*schema.Identity, error) {
	n, err := h.LoadNode(ctx, c)
	if err != nil {
		return nil, err
	}
	id, ok := n.(*schema.Identity)
	if !ok {
		return nil, acerr.E("home.LoadIdentity", "", acerr.Invalid, fmt.Errorf("is %s, not an identity", n.Kind().Noun())).WithCID(c.String())
	}
	return id, nil
}

// Trust resolves the identities this home trusts at a given HEAD: its own
// (identities/NAME) and its friends' (friends/<id-cid>). It implements
// policy.Resolver.
type Trust struct {
	h    *Home
	head cid.Cid
}

// Trust returns the resolver of trusted identities at head.
func (h *Home) Trust(head cid.Cid) *Trust { return &Trust{h: h, head: head} }

// Identity returns the identity id if it is mine or a friend's.
func (r *Trust) Identity(ctx context.Context, id cid.Cid) (*schema.Identity, error) {
	t := r.h.Tree(cid.Undef)
	_, err := t.Lookup(ctx, r.head, Friends+"/"+id.String())
	if err == nil {
		return r.h.LoadIdentity(ctx, id)
	}
	if !acerr.Is(acerr.NotExist, err) {
		return nil, err
	}
	mine, err := t.List(ctx, r.head, Identities)
	if err != nil {
		return nil, err
	}
	for _, e := range mine {
		if e.Target == id {
			return r.h.LoadIdentity(ctx, id)
		}
	}
	return nil, acerr.E("home.Trust", "", acerr.Permission, errors.New("not a friend (nor one of my identities)")).WithCID(id.String())
}

// Signer signs directories owned by my identities, with their keys from
// the keystore, opened with a passphrase when they are sealed.
//
// It holds the keys in an identity.KeyRing: each is unlocked at most
// once, when it signs its first directory, so a sealed key runs scrypt
// once however many directories a change (or a long-running process: a
// mount, a receiver) signs. The keys stay in memory only, never written
// anywhere, until Close overwrites them: whoever makes a Signer closes
// it when its signing is done, a command at the end of its change, a
// long-running process when it stops. A Signer that is never closed
// keeps its keys until the process exits. It is safe for concurrent
// use.
type Signer struct {
	h    *Home
	ring *identity.KeyRing
}

// Signer returns a signer of directories owned by my identities, which
// keeps its own copy of passphrase. Close it when done.
func (h *Home) Signer(passphrase []byte) *Signer {
	return &Signer{h: h, ring: h.Keys.KeyRing(passphrase)}
}

// Holds reports whether the signer has owner's key, or the keystore has.
func (s *Signer) Holds(owner cid.Cid) bool { return s.ring.Has(owner) }

// SignDirectory signs d with its owner's key, unlocking it on its first
// use. After Close it fails with acerr.Invalid.
func (s *Signer) SignDirectory(_ context.Context, d *schema.Directory) error {
	if !s.Holds(d.Owner) {
		return acerr.E("home.Sign", "", acerr.Permission, errors.New("the directory is owned by someone else: only its owner changes it")).WithCID(d.Owner.String())
	}
	return s.ring.Sign(d.Owner, d)
}

// Sign signs n, a node owned by identity id (my node_v1), with id's key.
func (s *Signer) Sign(id cid.Cid, n schema.Signed) error { return s.ring.Sign(id, n) }

// Close overwrites the keys the signer unlocked; it signs no more.
// Closing it again does nothing.
func (s *Signer) Close() error { return s.ring.Close() }
