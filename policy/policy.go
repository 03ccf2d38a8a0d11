package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Resolver resolves an identity CID to a trusted identity: one of mine or
// a friend's. It returns an error of kind acerr.NotExist for any other
// CID. The identity it returns must be the one the CID names; Check
// verifies that and refuses a resolver that lies.
type Resolver interface {
	Identity(ctx context.Context, id cid.Cid) (*schema.Identity, error)
}

// Check validates a node that arrived from outside, named by c.
//
// It first runs CheckStructure. Then, by kind:
//
//   - identity_v1: the self-signature verifies.
//   - node_v1 and owned directory_v1: the owner resolves through r (else
//     acerr.Permission: the owner is not a friend), and the signature
//     verifies under the owner's key (else acerr.Signature).
//   - shared directory_v1 and shard_v1: nothing more; they are unsigned
//     and are trusted only as far as a signed node links them.
//
// Every error is one line naming the kind and the CID.
func Check(ctx context.Context, r Resolver, c cid.Cid, n schema.Object) error {
	const op = "policy.Check"
	if err := CheckStructure(c, n); err != nil {
		return err
	}
	var owner cid.Cid
	switch n := n.(type) {
	case *schema.Identity:
		if err := identity.VerifySelf(n); err != nil {
			return acerr.E(op, "", acerr.Other, fmt.Errorf("%s: %w", n.Kind(), err)).WithCID(c.String())
		}
		return nil
	case *schema.Node:
		owner = n.Owner
	case *schema.Directory:
		if !n.Owned() {
			return nil
		}
		owner = n.Owner
	default: // *schema.DirNode: CheckStructure refused every other type
		return nil
	}
	signer, err := resolve(ctx, r, owner)
	if err != nil {
		return acerr.E(op, "", acerr.Other, fmt.Errorf("%s: %w", n.Kind(), err)).WithCID(c.String())
	}
	if err := identity.Verify(signer, n.(schema.Signed)); err != nil {
		return acerr.E(op, "", acerr.Other, fmt.Errorf("%s: %w", n.Kind(), err)).WithCID(c.String())
	}
	return nil
}

// resolve asks r for owner and checks the answer. A resolver that cannot
// find the owner means the owner is not a friend.
func resolve(ctx context.Context, r Resolver, owner cid.Cid) (*schema.Identity, error) {
	if r == nil {
		return nil, acerr.E("", "", acerr.Permission, fmt.Errorf("owner %s is %w", Short(owner), ErrNotFriend))
	}
	id, err := r.Identity(ctx, owner)
	switch {
	case acerr.Is(acerr.NotExist, err) || (err == nil && id == nil):
		return nil, acerr.E("", "", acerr.Permission, fmt.Errorf("owner %s is %w", Short(owner), ErrNotFriend))
	case err != nil:
		return nil, fmt.Errorf("resolving owner %s: %w", Short(owner), err)
	}
	if got := schema.Sum(schema.Encode(id)); !got.Equals(owner) {
		return nil, acerr.E("", "", acerr.Integrity,
			fmt.Errorf("resolver answered owner %s with identity %s", Short(owner), Short(got)))
	}
	return id, nil
}

// CheckStructure runs the checks that need no keys: n is a known kind, it
// hashes to c, every link has the codec its role calls for (dag-cbor and
// sha2-256 for nodes, dag-pb or raw for UnixFS file contents), an identity
// has a valid name, a node_v1's addresses are HOST:PORT, and a shard's
// entries agree on the hash prefix its depth implies. The schema's decoder
// has already enforced the field types, the entry names and the orders.
//
// It is what message uses on the directory structure a content message
// carries under a signed node: those blocks are covered by the node's
// signature through their CIDs, and an owned subdirectory's own signature
// is checked with Check when a merge reaches it.
func CheckStructure(c cid.Cid, n schema.Object) error {
	const op = "policy.Check"
	fail := func(kind acerr.Kind, k schema.Kind, format string, args ...any) error {
		return acerr.E(op, "", kind, fmt.Errorf("%s: %s", k, fmt.Sprintf(format, args...))).WithCID(c.String())
	}
	if n == nil {
		return acerr.E(op, "", acerr.Invalid, errors.New("no node")).WithCID(c.String())
	}
	switch n.(type) {
	case *schema.Identity, *schema.Node, *schema.Directory, *schema.DirNode:
	default:
		return fail(acerr.Invalid, n.Kind(), "unknown node type %T", n)
	}
	if !c.Defined() {
		return fail(acerr.Invalid, n.Kind(), "no CID")
	}
	if got := schema.Sum(schema.Encode(n)); !got.Equals(c) {
		return fail(acerr.Integrity, n.Kind(), "node hashes to %s, not to its CID", got)
	}
	var err error
	switch n := n.(type) {
	case *schema.Identity:
		err = schema.ValidIdentityName(n.Name)
	case *schema.Node:
		err = checkNode(n)
	case *schema.Directory:
		err = checkDirectory(n)
	case *schema.DirNode:
		err = checkDirNode(n)
	}
	if err != nil {
		return fail(acerr.Invalid, n.Kind(), "%v", err)
	}
	return nil
}

func checkNode(n *schema.Node) error {
	if err := nodeLink("owner", n.Owner); err != nil {
		return err
	}
	if err := nodeLink("root", n.Root); err != nil {
		return err
	}
	if err := optionalNodeLink("prev", n.Prev); err != nil {
		return err
	}
	for _, a := range n.Addrs {
		if err := checkAddr(a); err != nil {
			return err
		}
	}
	return nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" || strings.ContainsFunc(host, unicode.IsControl) {
		return fmt.Errorf("address %q is not HOST:PORT", a)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("address %q has no valid port", a)
	}
	return nil
}

func checkDirectory(d *schema.Directory) error {
	if d.Owned() {
		if err := nodeLink("owner", d.Owner); err != nil {
			return err
		}
		if err := optionalNodeLink("prev", d.Prev); err != nil {
			return err
		}
	}
	for _, ch := range d.Children {
		if err := nodeLink("child "+ch.Name, ch.Link); err != nil {
			return err
		}
	}
	return checkEntries(d.Entries)
}

func checkDirNode(n *schema.DirNode) error {
	for _, ch := range n.Children {
		if err := nodeLink("child "+ch.Name, ch.Link); err != nil {
			return err
		}
	}
	return checkEntries(n.Entries)
}

func checkEntries(entries []schema.Entry) error {
	for i := range entries {
		if len(entries[i].Conflicts) > 0 {
			if err := checkEntries(entries[i].Conflicts); err != nil {
				return err
			}
		}
		e := &entries[i]
		if err := optionalNodeLink(fmt.Sprintf("entry %q by", e.Name), e.By); err != nil {
			return err
		}
		if !e.Target.Defined() {
			continue
		}
		what := fmt.Sprintf("entry %q target", e.Name)
		if e.Kind == schema.KindFile {
			if err := fileLink(what, e.Target); err != nil {
				return err
			}
		} else if err := nodeLink(what, e.Target); err != nil {
			return err
		}
	}
	return nil
}

// nodeLink checks a link to another ArchiveCache node: CIDv1, dag-cbor,
// a 32-byte sha2-256 digest, the only kind of CID schema.Sum makes.
func nodeLink(what string, c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%s is missing", what)
	}
	p := c.Prefix()
	if p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != multihash.SHA2_256 || p.MhLength != sha256.Size {
		return fmt.Errorf("%s %s is not a dag-cbor sha2-256 CIDv1", what, Short(c))
	}
	return nil
}

func optionalNodeLink(what string, c cid.Cid) error {
	if !c.Defined() {
		return nil
	}
	return nodeLink(what, c)
}

// fileLink checks a link to a UnixFS file root: a CIDv1, dag-pb or raw,
// as `ipfs add --cid-version=1` makes, or a CIDv0 (dag-pb), as `ipfs add`
// makes by default and ac-add /ipfs/CID takes.
func fileLink(what string, c cid.Cid) error {
	p := c.Prefix()
	if p.Version == 0 || p.Version == 1 && (p.Codec == cid.DagProtobuf || p.Codec == cid.Raw) {
		return nil
	}
	return fmt.Errorf("%s %s is not a CIDv0, or a dag-pb or raw CIDv1", what, Short(c))
}

// Short abbreviates a CID for messages: its first four and last eight
// characters, enough to tell CIDs apart by eye.
func Short(c cid.Cid) string {
	if !c.Defined() {
		return "(none)"
	}
	s := c.String()
	if len(s) <= 16 {
		return s
	}
	return s[:4] + "…" + s[len(s)-8:]
}
