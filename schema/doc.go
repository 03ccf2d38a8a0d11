// Package schema owns the data model: the Go types of every node kind
// declared in archivecache.ipldsch, their canonical dag-cbor encoding, the
// rules every entry obeys (valid.go), the limits on blocks and fields, and
// the links of a node (Links).
//
// It depends on nothing else in the project but acerr. The codec is
// hand-written for the small subset of dag-cbor the schema uses, for two
// reasons: strictness (Decode refuses unknown fields, missing fields,
// non-minimal integers, unsorted keys, explicit zeros for omitted fields,
// trailing bytes and anything over MaxBlockSize, so every value has
// exactly one encoding and one CID) and speed (no reflection, no
// intermediate node trees when encoding). The tests check every encoding
// against go-ipld-prime's dag-cbor codec and against the schema file, and
// that the Go structs, the encoder's keys and the decoder's keys are the
// fields the schema file declares (TestFieldsMatchSchema).
//
// Decode checks structure only. Whether a signature verifies, whether an
// owner is a friend, whether a change is allowed: those belong to the
// policy package.
//
// # Adding a field to an entry
//
// An Entry field is read and written in many places, and each of these
// must handle a new one. TestFieldsMatchSchema fails until the first three
// agree, and TestSameEntryComparesEveryField until SameEntry compares it;
// the rest no test can derive:
//
//  1. archivecache.ipldsch: the field in Entry and in Version, optional
//     unless every entry has it, with what it means.
//  2. nodes.go: the Entry struct field; Entry.encode, which counts the
//     fields present and writes the keys in dag-cbor's canonical order
//     (shorter keys first, then bytewise), omitting a zero value.
//  3. entrydec.go: entryKeys and the key constants, in the same order, and
//     the case in entry that decodes it, refusing a present zero value.
//  4. valid.go: validVersion, for its range and how it agrees with the
//     other fields (a Deleted entry, a kind that does not have it).
//  5. version.go: SameEntry compares it; decide whether Prefer (the
//     version shown) or Supersedes (the version replaced) look at it, and
//     say so in the schema file's comment on Entry and in merge's doc.
//  6. links.go, if it is a link: Links returns it with its role, which is
//     how a CAR export, message verification and a repair follow it; and
//     policy's checkEntries checks its codec.
//  7. tree: what Apply's put and mkdir set or keep of it in a new version
//     (apply.go), whether a change of it is a Changed (changes.go),
//     whether PutTree puts a file again when only it differs (sameFile
//     and the Source doc in puttree.go).
//  8. localfs, if it comes from or goes to the disk: the importer's entry
//     (import.go) and the exporter (export.go).
//  9. internal/cli: ac-ls's long line and --json (ls.go), ac-info's lines
//     and --json (info.go), and the testscripts that show them.
//  10. internal/forge, if a hostile value of it can do harm, so the
//     hostile tests forge it; and the tests: sampleEntries (schema_test.go)
//     and full (fields_test.go) set it, so its encoding is checked against
//     go-ipld-prime and the schema file.
package schema
