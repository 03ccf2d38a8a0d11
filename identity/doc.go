// Package identity owns keys and signatures.
//
// An identity is an ed25519 key pair. Its public half is published as a
// self-signed identity_v1 node, and the identity is named by that node's
// CID. Its private half lives only in the keystore (one file per identity
// under the home's keys/ directory, mode 0600, optionally sealed with a
// passphrase): it never enters a block, a message or the mount.
//
// In memory a private key lives as long as its holder keeps it.
// Keystore.Load returns a fresh copy at every call (running scrypt for a
// sealed key) and overwrites what it decrypted on the way; the caller
// holds the copy. A KeyRing, what a process that signs many times uses,
// unlocks each key at most once, on its first signature, holds it in
// memory only, and overwrites it when closed.
//
// Every signature is domain-separated: it covers
//
//	"archivecache/v1/" + policy + dag-cbor(node without "sig")
//
// so a signature made for one kind of node can never be replayed as a
// signature on another kind, nor on anything that is not an ArchiveCache
// node. The policy string is ASCII and a dag-cbor map starts with a byte
// of 0xa0 or above, so the boundary between the two is unambiguous.
package identity
