// Package policy owns the rules of each node kind: who may change what,
// and what a node that arrives from outside must satisfy before anything
// is stored.
//
// The schema package decides what a well-formed node is (field types,
// canonical encoding, sizes); identity decides whether a signature is
// good. This package puts them together with the one piece of local
// knowledge they lack, which identities are trusted, and with the rules
// that compare two versions of a thing. It stores nothing and does no I/O
// of its own: trust comes in through a Resolver, which the caller backs
// with the friends/ and identities/ of its tree.
//
// # Kinds and their rules
//
// The kinds are schema.Kind values; the rules decided here are:
//
//	kind                  who signs        Check (untrusted input)                      replacing a held version
//	identity_v1           itself           self-signature verifies; name is a clean     never replaced: friends are kept by CID;
//	                                       label (ValidIdentityName); CID matches       a new identity reusing a friend's name
//	                                                                                    or one that looks like it is refused (ConfusableNames)
//	node_v1               owner            owner is a friend (Resolver), signature      higher seq only (Newer); lower seq is a
//	                                       verifies under the owner's key; links are    rollback, equal seq with another CID a fork
//	                                       dag-cbor; addrs are HOST:PORT                (the held node is kept)
//	directory_v1, owned   owner            as node_v1; entry targets have the codec     higher seq only (CompareOwned); a fork
//	                                       of their kind                                keeps the smaller CID on every replica
//	directory_v1, shared  nobody           structure only: trusted as far as a signed   never replaced: merged as a CRDT (package
//	                                       node links it by CID                         merge); anyone may add
//	shard_v1              nobody           structure only; a leaf's entries agree on    part of its directory, never on its own
//	                                       the hash prefix of its depth
//	file_v1               (entry only)     target is a CIDv0, dag-pb or raw CIDv1 (UnixFS) part of its directory
//
// "Owner is a friend" means the Resolver knows the owner's identity CID:
// my own identities and the friends I added. A node from anyone else is
// refused with acerr.Permission and nothing of it is kept. A signature
// that fails gives acerr.Signature, bytes that do not hash to their CID
// acerr.Integrity, a malformed node acerr.Invalid, and an old or forked
// version acerr.Stale.
//
// Versions. Every signed version stays valid for ever, so a signature
// alone cannot stop an old version from being replayed. The seq counter
// does: a held version is replaced only by one with a higher seq from the
// same owner. Newer applies that rule to node_v1 and CompareOwned to
// owned directories; they assume both sides passed Check.
//
// Names. An identity is its CID. Its display name is a label chosen by
// whoever made it, and anyone can make another identity with the same
// label; so friends are keyed by CID, and a newcomer may not show an
// existing friend's name, nor one that merely looks like it:
// ConfusableNames tells when two
// labels would be taken for each other (case, compatibility forms,
// combining marks, invisible characters and the look-alikes of Unicode
// TS #39), and the commands refuse a newcomer whose name is confusable
// with one already shown unless it gets a label of my own.
//
// Trees from outside. Rules is the tree.Checker a merge and ac-verify run:
// it decides, for every block a tree.Check reads, what structure cannot
// (owned directories signed by owners who resolve, link codecs, entries
// that name the owner of what they link, owned deletions that link an
// empty version, file sizes where a file's root block is held, and that
// a filesystem holds only directories and files).
//
// Rules decided elsewhere: how shared directories merge (tombstones,
// version vectors, conflict copies) belongs to package merge, and what the
// mount may write to package mountfs; both call into this package for the
// decisions above.
package policy
