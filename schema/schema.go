package schema

import _ "embed"

// Source is the IPLD schema (archivecache.ipldsch) that declares every
// node kind. The codec in this package implements it; the tests load it
// with go-ipld-prime and check every encoding against it. It is not parsed
// at run time, to keep command start-up fast.
//
//go:embed archivecache.ipldsch
var Source []byte
