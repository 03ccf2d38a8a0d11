package home

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// NotReceivedHint is what to do about a block that did not come in time.
const NotReceivedHint = "is their node online? --fetch-timeout waits longer"

// NotReceived rewrites err, when it is a block the store's peers did not
// send in time (ipfsstore.NotReceived: the kubo store gave up after its
// fetch timeout), as the error of op at the tree path p that names the
// friend whose node the entry at p came from: the friend of nodes/ID/...,
// or, under root/, a friend whose latest root holds the same entry at the
// same place. Any other err is returned as it is. What it reads to find
// the friend is only what the store holds: naming the friend never waits
// for the network.
func (h *Home) NotReceived(ctx context.Context, op, p string, err error) error {
	var nr *ipfsstore.NotReceived
	if !errors.As(err, &nr) {
		return err
	}
	msg := fmt.Sprintf("does not exist here and did not come from the daemon's peers within %v", nr.Within)
	if who := h.whose(ctx, p); who != "" {
		msg = fmt.Sprintf("does not exist here and did not come from %s node within %v", who, nr.Within)
	}
	return acerr.E(op, p, acerr.NotExist, errors.New(msg)).WithHint(NotReceivedHint)
}

// whose names the friends whose node the entry at p came from, in the
// possessive ("alice's", "alice's or carol's"): each by the alias I gave
// them, else the name their identity gives; "" if none is found.
func (h *Home) whose(ctx context.Context, p string) string {
	head, err := h.Get()
	if err != nil {
		return ""
	}
	t := tree.New(heldOnly{h.Store}, h.TreeConfig(cid.Undef, nil))
	var ids []cid.Cid
	switch top, rest, _ := strings.Cut(p, "/"); top {
	case Nodes:
		name, _, _ := strings.Cut(rest, "/")
		if id, err := cid.Decode(name); err == nil {
			ids = append(ids, id)
		}
	case Root:
		en, err := t.Lookup(ctx, head, p)
		if err != nil {
			return ""
		}
		nodes, err := t.List(ctx, head, Nodes)
		if err != nil {
			return ""
		}
		var unread []cid.Cid // friends whose trees are not all here
		for _, n := range nodes {
			id, err := cid.Decode(n.Name)
			if err != nil || n.Kind != schema.KindNode {
				continue
			}
			theirs, err := t.Lookup(ctx, head, tree.JoinPath(Nodes+"/"+n.Name+"/"+Root, rest))
			switch {
			case err == nil && theirs.Kind == en.Kind && theirs.Target.Equals(en.Target):
				ids = append(ids, id)
			case acerr.Is(acerr.NotExist, err):
				unread = append(unread, id)
			}
		}
		// A friend's newer tree whose blocks have not come yet may be
		// where the entry is from, if a friend's change made it: one
		// that names another replica than mine. Only one such friend
		// can be named with any sureness.
		if len(ids) == 0 && len(unread) == 1 && othersChange(en, h.Config.Replica) {
			ids = unread
		}
	}
	if len(ids) == 0 {
		return ""
	}
	aliases, _ := listAliases(ctx, t, head)
	var names []string
	for _, id := range ids {
		if name := friendName(ctx, h.Store, aliases, id); name != "" {
			names = append(names, name+"'s")
		}
	}
	return strings.Join(names, " or ")
}

// friendName is the alias I gave the identity id, else the name it gives
// itself; "" if neither is here.
func friendName(ctx context.Context, st ipfsstore.Store, aliases []schema.Entry, id cid.Cid) string {
	for _, a := range aliases {
		if a.Target.Equals(id) {
			return a.Name
		}
	}
	if data, err := (heldOnly{st}).Get(ctx, id); err == nil {
		if ident, err := schema.DecodeAs[*schema.Identity](data); err == nil {
			return ident.Name
		}
	}
	return ""
}

// othersChange reports whether a replica other than mine changed e.
func othersChange(e schema.Entry, mine string) bool {
	for r := range e.VV {
		if r != mine {
			return true
		}
	}
	return false
}

// heldOnly is a store that reads only the blocks it holds: a block it
// does not is NotExist at once, never fetched.
type heldOnly struct{ ipfsstore.Store }

func (s heldOnly) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	ok, err := s.Store.Has(ctx, c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, acerr.E("get", "", acerr.NotExist, errors.New("not held")).WithCID(c.String())
	}
	return s.Store.Get(ctx, c)
}
