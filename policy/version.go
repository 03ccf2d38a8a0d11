package policy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Sentinels for the policy violations, wrapped into the errors this
// package returns so that callers can tell them apart with errors.Is when
// the acerr.Kind alone does not say enough (a rollback and a fork are both
// acerr.Stale).
var (
	ErrNotFriend    = errors.New("not a friend")
	ErrRollback     = errors.New("rollback refused")
	ErrFork         = errors.New("fork")
	ErrOwnerChanged = errors.New("owner changed")
)

// Newer reports whether in, a node_v1, should replace held, the version of
// the same owner's node held now. Both must already have passed Check.
//
//   - Same CID: (false, nil), nothing to do.
//   - Different owners: acerr.Permission; node references are kept per
//     owner, so this is a caller's mix-up or a forgery.
//   - in.Seq > held.Seq: (true, nil).
//   - in.Seq < held.Seq: acerr.Stale wrapping ErrRollback. An old signed
//     version stays valid for ever, so seq is what stops its replay.
//   - Equal seq, different CIDs: acerr.Stale wrapping ErrFork, and held is
//     kept.
//
// Why the held node wins a fork: the owner signed two versions with one
// seq (two replicas published independently, or the key leaked), and
// both signatures are good, so nothing in the nodes says which is right.
// A node reference is local bookkeeping (nodes/<owner>), not merged
// state, so replicas need not agree on it. Keeping what is held makes
// receiving the other version again a no-op, stops a stream of forked
// versions from making the reference flap, and leaves the repair to the
// only party who can make it: the owner, by publishing seq+1.
func Newer(held *schema.Node, heldCID cid.Cid, in *schema.Node, inCID cid.Cid) (bool, error) {
	const op = "policy.Newer"
	if held == nil || in == nil {
		return false, acerr.E(op, "", acerr.Invalid, errors.New("node_v1 missing"))
	}
	switch {
	case heldCID.Equals(inCID):
		return false, nil
	case !held.Owner.Equals(in.Owner):
		return false, acerr.E(op, "", acerr.Permission,
			fmt.Errorf("%w from %s to %s", ErrOwnerChanged, Short(held.Owner), Short(in.Owner))).WithCID(inCID.String())
	case in.Seq > held.Seq:
		return true, nil
	case in.Seq < held.Seq:
		return false, acerr.E(op, "", acerr.Stale,
			fmt.Errorf("seq %d is older than held seq %d (%w)", in.Seq, held.Seq, ErrRollback)).WithCID(inCID.String())
	}
	return false, acerr.E(op, "", acerr.Stale,
		fmt.Errorf("%w at seq %d: held %s kept", ErrFork, in.Seq, Short(heldCID))).WithCID(inCID.String())
}

// CompareOwned orders two versions a and b (with CIDs ac and bc) of one
// owned directory, the one kept first: the higher seq, and at equal seqs
// (a fork) the smaller CID, compared as bytes. It returns -1 when a is
// kept, +1 when b is, and 0 when they are the same CID; it suits
// slices.SortFunc.
//
// The rule is Newer's, with one difference at a fork: the smaller CID
// wins whichever side is held. Owned directories live inside trees that
// merge, and merge must give every replica the same root CID whatever
// order it saw its inputs in; the held side differs from replica to
// replica, the smaller CID does not. CompareOwned does not look at
// owners: the versions of one name that merge compares have one owner
// (schema.Supersedes keeps the others apart).
func CompareOwned(a *schema.Directory, ac cid.Cid, b *schema.Directory, bc cid.Cid) int {
	if a.Seq != b.Seq {
		return cmp.Compare(b.Seq, a.Seq)
	}
	return bytes.Compare(ac.Bytes(), bc.Bytes())
}
