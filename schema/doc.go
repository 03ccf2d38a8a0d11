// Package schema owns the data model: the Go types of every node kind
// declared in archivecache.ipldsch, and their canonical dag-cbor encoding.
//
// It depends on nothing else in the project but acerr. The codec is
// hand-written for the small subset of dag-cbor the schema uses, for two
// reasons: strictness (Decode refuses unknown fields, missing fields,
// non-minimal integers, unsorted keys, explicit zeros for omitted fields,
// trailing bytes and anything over MaxBlockSize, so every value has
// exactly one encoding and one CID) and speed (no reflection, no
// intermediate node trees when encoding). The tests check every encoding
// against go-ipld-prime's dag-cbor codec and against the schema file.
//
// Decode checks structure only. Whether a signature verifies, whether an
// owner is a friend, whether a change is allowed: those belong to the
// policy package.
package schema
