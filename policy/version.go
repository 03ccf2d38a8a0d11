package policy

import (
	"bytes"
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
func Newer(held *schema.NodeRef, heldCID cid.Cid, in *schema.NodeRef, inCID cid.Cid) (bool, error) {
	const op = "policy.Newer"
	if held == nil || in == nil {
		return false, acerr.E(op, "", acerr.Invalid, errors.New("node_v1 missing"))
	}
	return newer(op, held.Owner, held.Seq, heldCID, in.Owner, in.Seq, inCID, false)
}

// NewerDirectory is Newer for owned directories, with one difference: at
// a fork (equal seq, different CIDs) the smaller CID, compared as bytes,
// wins, whichever side is held. Owned directories live inside trees that
// merge, and merge must give every replica the same root CID whatever
// order it saw its inputs in; the held side differs from replica to
// replica, the smaller CID does not.
//
// So at a fork NewerDirectory returns an acerr.Stale error wrapping
// ErrFork, to be reported, together with a meaningful bool: true when in
// is the smaller CID and should replace held. A caller that stops at the
// error keeps held, which is safe; merge honours the bool to converge.
// Shared directories have no versions and are refused (acerr.Invalid):
// they merge instead.
func NewerDirectory(held *schema.Directory, heldCID cid.Cid, in *schema.Directory, inCID cid.Cid) (bool, error) {
	const op = "policy.NewerDirectory"
	switch {
	case held == nil || in == nil:
		return false, acerr.E(op, "", acerr.Invalid, errors.New("directory_v1 missing"))
	case !held.Owned() || !in.Owned():
		return false, acerr.E(op, "", acerr.Invalid,
			errors.New("a shared directory_v1 has no versions; merge it instead")).WithCID(inCID.String())
	}
	return newer(op, held.Owner, held.Seq, heldCID, in.Owner, in.Seq, inCID, true)
}

func newer(op string, heldOwner cid.Cid, heldSeq uint64, heldCID cid.Cid,
	inOwner cid.Cid, inSeq uint64, inCID cid.Cid, smallerWins bool) (bool, error) {
	switch {
	case heldCID.Equals(inCID):
		return false, nil
	case !heldOwner.Equals(inOwner):
		return false, acerr.E(op, "", acerr.Permission,
			fmt.Errorf("%w from %s to %s", ErrOwnerChanged, Short(heldOwner), Short(inOwner))).WithCID(inCID.String())
	case inSeq > heldSeq:
		return true, nil
	case inSeq < heldSeq:
		return false, acerr.E(op, "", acerr.Stale,
			fmt.Errorf("seq %d is older than held seq %d (%w)", inSeq, heldSeq, ErrRollback)).WithCID(inCID.String())
	}
	if smallerWins && bytes.Compare(inCID.Bytes(), heldCID.Bytes()) < 0 {
		return true, acerr.E(op, "", acerr.Stale,
			fmt.Errorf("%w at seq %d: incoming %s kept, held %s dropped (the smaller CID wins)",
				ErrFork, inSeq, Short(inCID), Short(heldCID))).WithCID(inCID.String())
	}
	return false, acerr.E(op, "", acerr.Stale,
		fmt.Errorf("%w at seq %d: held %s kept", ErrFork, inSeq, Short(heldCID))).WithCID(inCID.String())
}
