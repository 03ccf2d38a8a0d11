package home

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/message"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Friend is a friend of the home: an identity at friends/<id-cid>, and
// the alias I gave it, if any (aliases/ALIAS).
type Friend struct {
	Name     string // the identity's own display name
	Alias    string // empty: none
	ID       cid.Cid
	Identity *schema.Identity
}

// Friends returns the friends at head, by name, with their aliases.
func (h *Home) Friends(ctx context.Context, head cid.Cid) ([]Friend, error) {
	t := h.Tree(cid.Undef)
	ents, err := t.List(ctx, head, Friends)
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
	var out []Friend
	for _, en := range ents {
		id, err := h.LoadIdentity(ctx, en.Target)
		if err != nil {
			return nil, acerr.E("friends", Friends+"/"+en.Name, acerr.Other, err)
		}
		out = append(out, Friend{Name: id.Name, Alias: alias[en.Target], ID: en.Target, Identity: id})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listAliases returns the entries of aliases/, none if there is no such
// directory (a home no alias was ever given in).
func listAliases(ctx context.Context, t *tree.Tree, head cid.Cid) ([]schema.Entry, error) {
	ents, err := t.List(ctx, head, Aliases)
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
func (h *Home) shownNames(ctx context.Context, head cid.Cid, fs []Friend) ([]shownName, error) {
	var out []shownName
	for _, f := range fs {
		what := fmt.Sprintf("the friend %q (%s)", f.Name, shortID(f.ID))
		out = append(out, shownName{f.Name, what, f.ID, f.Identity.Key})
		if f.Alias != "" {
			what := fmt.Sprintf("the friend %q known as %q (%s)", f.Name, f.Alias, shortID(f.ID))
			out = append(out, shownName{f.Alias, what, f.ID, f.Identity.Key})
		}
	}
	mine, err := h.Tree(cid.Undef).List(ctx, head, Identities)
	if err != nil {
		return nil, err
	}
	for _, en := range mine {
		id, err := h.LoadIdentity(ctx, en.Target)
		if err != nil {
			return nil, acerr.E("identities", Identities+"/"+en.Name, acerr.Other, err)
		}
		out = append(out, shownName{id.Name, fmt.Sprintf("my identity %q (%s)", id.Name, shortID(en.Target)), en.Target, id.Key})
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

// Befriended is what Befriend did.
type Befriended struct {
	Friend   Friend
	Known    bool // already a friend
	AliasSet bool // a known friend's alias was set or changed
}

// Befriend takes in the identity a reference message carries as a
// friend, at friends/<id-cid>, with alias (empty: none) at
// aliases/ALIAS. Names are labels, not identities: a newcomer whose name
// looks like a name already shown (policy.ConfusableNames: a friend's
// name or alias, or one of my identities') is refused unless an alias,
// itself checked the same way, tells it apart. An alias given for a
// friend already held replaces the old one.
func (h *Home) Befriend(ctx context.Context, msg *message.Message, alias, cmd string) (Befriended, error) {
	in, ok := msg.Node.(*schema.Identity)
	if !ok {
		return Befriended{}, acerr.E("friend add", "", acerr.Invalid, fmt.Errorf("message carries %s, not an identity (use ac-node add for nodes)", msg.Node.Kind().Noun())).WithCID(msg.NodeCID.String())
	}
	var res Befriended
	_, err := h.Update(ctx, command(cmd, "friend add"), func(old cid.Cid) (cid.Cid, error) {
		res = Befriended{Friend: Friend{Name: in.Name, Alias: alias, ID: msg.NodeCID, Identity: in}}
		if err := policy.Check(ctx, nil, msg.NodeCID, in); err != nil {
			return cid.Undef, err
		}
		fs, err := h.Friends(ctx, old)
		if err != nil {
			return cid.Undef, err
		}
		shown, err := h.shownNames(ctx, old, fs)
		if err != nil {
			return cid.Undef, err
		}
		var known *Friend
		for _, f := range fs {
			if f.ID == msg.NodeCID {
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
			res.Known, res.Friend = true, *known
			if alias == "" || alias == known.Alias {
				return old, nil
			}
			res.AliasSet, res.Friend.Alias = true, alias
			if head, err = deleteAliases(ctx, t, head, msg.NodeCID); err != nil {
				return cid.Undef, err
			}
		} else {
			if err := h.Store.Put(ctx, msg.NodeCID, msg.Blocks[msg.NodeCID]); err != nil {
				return cid.Undef, err
			}
			head, err = t.Put(ctx, head, Friends+"/"+msg.NodeCID.String(), schema.Entry{Kind: schema.KindIdentity, Target: msg.NodeCID})
			if err != nil {
				return cid.Undef, err
			}
		}
		if alias == "" {
			return head, nil
		}
		return t.Put(ctx, head, Aliases+"/"+alias, schema.Entry{Kind: schema.KindIdentity, Target: msg.NodeCID})
	})
	return res, err
}

// deleteAliases deletes every alias of identity id under head.
func deleteAliases(ctx context.Context, t *tree.Tree, head, id cid.Cid) (cid.Cid, error) {
	aliases, err := listAliases(ctx, t, head)
	if err != nil {
		return cid.Undef, err
	}
	for _, a := range aliases {
		if a.Target == id {
			if head, err = t.Delete(ctx, head, Aliases+"/"+a.Name); err != nil {
				return cid.Undef, err
			}
		}
	}
	return head, nil
}

// Unfriended is what Unfriend removed.
type Unfriended struct {
	Friend Friend
	Node   string // the node reference removed with the friend; empty: none
}

// Unfriend removes the friend whom is, by name, alias or identity CID,
// with the friend's aliases and node reference (nodes/<id>) in the same
// change: what a non-friend published is not trusted. A name two
// friends share is refused: give the alias or the CID.
func (h *Home) Unfriend(ctx context.Context, who, cmd string) (Unfriended, error) {
	var res Unfriended
	_, err := h.Update(ctx, command(cmd, "friend rm "+who), func(old cid.Cid) (cid.Cid, error) {
		res = Unfriended{}
		fs, err := h.Friends(ctx, old)
		if err != nil {
			return cid.Undef, err
		}
		f, err := oneFriend(fs, who)
		if err != nil {
			return cid.Undef, acerr.E("friend rm", who, acerr.KindOf(err), err)
		}
		res.Friend = f
		t := h.Tree(cid.Undef)
		head, err := t.Delete(ctx, old, Friends+"/"+res.Friend.ID.String())
		if err != nil {
			return cid.Undef, err
		}
		if head, err = deleteAliases(ctx, t, head, res.Friend.ID); err != nil {
			return cid.Undef, err
		}
		p := Nodes + "/" + res.Friend.ID.String()
		switch next, err := t.Delete(ctx, head, p); {
		case err == nil:
			res.Node, head = p, next
		case !acerr.Is(acerr.NotExist, err):
			return cid.Undef, err
		}
		return head, nil
	})
	return res, err
}

// FindFriends returns the friends who names: by identity CID, name or
// alias, or by a part of the CID that no other friend's CID has there: its
// start (git's habit with commit ids; "bafyrei" starts them all, so a
// few characters more are needed) or its end after "…" or "...", as
// listings print it.
func FindFriends(fs []Friend, who string) []Friend {
	var exact, part []Friend
	end, isEnd := strings.CutPrefix(who, "…")
	if !isEnd {
		end, isEnd = strings.CutPrefix(who, "...")
	}
	for _, f := range fs {
		id := f.ID.String()
		switch {
		case id == who || f.Name == who || f.Alias == who:
			exact = append(exact, f)
		case isEnd && end != "" && strings.HasSuffix(id, end), !isEnd && len(who) >= 4 && strings.HasPrefix(id, who):
			part = append(part, f)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return part
}

// oneFriend returns the one friend who names (FindFriends), or an error
// that lists the candidates.
func oneFriend(fs []Friend, who string) (Friend, error) {
	match := FindFriends(fs, who)
	switch len(match) {
	case 0:
		return Friend{}, acerr.E("", "", acerr.NotExist, nil)
	case 1:
		return match[0], nil
	}
	var names []string
	for _, f := range match {
		n := fmt.Sprintf("%q (%s)", f.Name, shortID(f.ID))
		if f.Alias != "" {
			n = fmt.Sprintf("%q known as %q (%s)", f.Name, f.Alias, shortID(f.ID))
		}
		names = append(names, n)
	}
	return Friend{}, acerr.E("", "", acerr.Invalid, fmt.Errorf("%d friends match: %s; give an alias or more of the identity CID", len(match), strings.Join(names, ", ")))
}

// ResolvePath returns p with a friend named in its second component
// spelled as the tree database spells it: nodes/alice/root, or
// nodes/…o2cvsz7vqa/root, becomes nodes/<alice's identity CID>/root, and
// the same under friends/. A component that is an entry of its own
// directory stays as it is, and so does one that names no friend; one
// that names several is an error that lists them.
func (h *Home) ResolvePath(ctx context.Context, head cid.Cid, p string) (string, error) {
	top, rest, ok := strings.Cut(p, "/")
	if !ok || top != Nodes && top != Friends {
		return p, nil
	}
	who, below, _ := strings.Cut(rest, "/")
	t := h.Tree(cid.Undef)
	if _, err := t.Lookup(ctx, head, top+"/"+who); err == nil || !acerr.Is(acerr.NotExist, err) {
		return p, nil
	}
	fs, err := h.Friends(ctx, head)
	if err != nil {
		return "", err
	}
	if top == Nodes {
		// My own identities publish nodes too, and a removed friend's
		// node may stay: every node under nodes/ can be named by its CID.
		ents, err := t.List(ctx, head, Nodes)
		if err != nil && !acerr.Is(acerr.NotExist, err) {
			return "", err
		}
		known := map[string]bool{}
		for _, f := range fs {
			known[f.ID.String()] = true
		}
		for _, en := range ents {
			if c, err := cid.Decode(en.Name); err == nil && !known[en.Name] {
				fs = append(fs, Friend{Name: en.Name, ID: c})
			}
		}
	}
	match := FindFriends(fs, who)
	switch len(match) {
	case 0:
		return p, nil
	case 1:
		return tree.JoinPath(top+"/"+match[0].ID.String(), below), nil
	}
	_, err = oneFriend(fs, who)
	return "", acerr.E("path", top+"/"+who, acerr.KindOf(err), err)
}
