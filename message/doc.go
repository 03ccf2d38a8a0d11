// Package message owns the envelope in which users hand each other signed
// nodes: by e-mail as base64 text, in a file, or over a TCP connection.
//
// A message is zlib-compressed JSON. On text channels it travels as
// base64; Parse takes either form (raw zlib starts with a two-byte
// header, 0x78 and a check byte, that no base64 text starts with) and
// accepts the standard or URL alphabet, with or without padding, wrapped
// over lines or not. For e-mail, EncodeText can armour the text between
// BEGIN and END lines, with a header naming the kind and the sender;
// Parse finds an armoured message inside the letter around it and
// undoes what mail programs do to it on the way: reply quoting, CRLF,
// quoted-printable (text.go). The header is for people; nothing of it is
// trusted. The JSON is:
//
//	{
//	  "version":   1,
//	  "kind":      "reference" | "content",
//	  "policy":    "identity_v1" | "node_v1" | "directory_v1",
//	  "ipfs_hash": "<CID of the node>",
//	  "owner":     "<CID of the owner's identity>",
//	  "name":      "<the owner's display name>",
//	  "seq":       N,                          (absent for an identity)
//	  "signature": "<base64 of the node's sig>",
//	  "blocks": {
//	    "<CID>": "<base64 of the block>",      (sorted by CID)
//	    ...
//	  }
//	}
//
// It is written compact, with the fields in that order and nothing
// escaped that need not be, so each message has one spelling; Parse
// refuses any other (unknown, miscased or duplicated fields, null values,
// trailing data, other base64 or CID spellings). The fields beside
// "blocks" say what the blocks prove, for a person or a program that has
// not decoded them; Parse checks that every one of them agrees.
//
// # Kinds
//
// A reference carries the node's block and its owner's identity block,
// and nothing else (one block when the node is the identity itself), so
// that it can be verified from the message alone. Only signed nodes
// travel: an identity_v1, a node_v1 or an owned directory_v1. A shared
// directory has no signature and no owner to vouch for it; it travels
// inside a signed node, linked by CID.
//
// A content message also carries the directory structure under the node,
// every directory and shard block down to the files, but never file
// contents (those come on demand over IPFS). The structure is all there
// or the message is not made; a tree too big for one message is sent as a
// CAR file (ac-export) instead.
//
// # Verification
//
// Parse verifies, in this order, and names the first thing that fails:
// every block hashes to its CID (acerr.Integrity); the node's block is
// there and decodes; its kind is the policy; it is signed; its owner is
// the owner field; the owner's block is there, is an identity and signs
// itself; the name, signature and seq fields are the owner's name and the
// node's sig and seq; the signature verifies under the owner's key
// (acerr.Signature); and every block carried is one the kind calls for
// (for content, reached from the node through directory and shard links).
// So a replayed reference cannot smuggle an unsigned block in, and a
// friend's name on a new key does not pass for the friend.
//
// A message that verifies proves only that its owner signed it. Whether
// the owner is a friend, and whether the node is newer than the one held,
// are the reader's questions, answered by package policy.
//
// # Limits
//
// Everything that arrives is hostile until verified, so the limits bound
// work and memory before anything is trusted:
//
//   - MaxInput (256 KiB, room for the mail around an armoured message):
//     anything longer is refused before any decoding.
//   - MaxCompressed (64 KiB) of zlib data, and MaxText (87,384
//     characters, whitespace not counted) of base64: a reference is a few
//     hundred bytes, and a content message this size holds the directory
//     structure of a tree of about 1,500 entries (each costs some 40
//     compressed bytes, mostly its incompressible target CID).
//   - MaxJSON (1 MiB) decompressed. Decompression reads through a limit
//     one byte past it, so a zlib bomb, which can expand a thousandfold,
//     is refused with acerr.TooLarge after at most 1 MiB of output.
//   - MaxJSONInput (2 MiB) of JSON for FromJSON and ReadJSON: the
//     indented JSON ToJSON prints of any message fits.
//   - Every block at most schema.MaxBlockSize, decoded by schema.Decode
//     with its depth and count limits.
//
// Input past a limit is refused with acerr.TooLarge and an error that
// states the limit; nothing is ever cut short and then parsed.
//
// ToJSON and FromJSON convert between a message and its indented JSON
// for people to read and edit. They enforce the limits and the syntax but
// verify no hash or signature, so a forged message can be inspected and
// a hand-made one built; Parse then judges it.
package message
