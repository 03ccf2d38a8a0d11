package ipfsstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

// errClosed is the cause reported by every method of a closed store.
var errClosed = errors.New("store is closed")

// checkBlock reports whether data may be stored as block c: its size is
// within schema.MaxBlockSize (acerr.TooLarge) and it hashes to c (acerr.Integrity).
// op names the calling operation in the error.
func checkBlock(op string, c cid.Cid, data []byte) error {
	if !c.Defined() {
		return acerr.E(op, "", acerr.Invalid, errors.New("undefined CID"))
	}
	if len(data) > schema.MaxBlockSize {
		return acerr.E(op, "", acerr.TooLarge,
			fmt.Errorf("block is %d bytes, limit %d", len(data), schema.MaxBlockSize)).WithCID(c.String())
	}
	ok, err := hashMatches(c, data)
	if err != nil {
		return acerr.E(op, "", acerr.Invalid, err).WithCID(c.String())
	}
	if !ok {
		return acerr.E(op, "", acerr.Integrity, errors.New("data does not hash to the CID")).WithCID(c.String())
	}
	return nil
}

// hashMatches reports whether data hashes to c's multihash. sha2-256, the
// hash of every block ArchiveCache makes, takes a fast path without
// allocation; other functions go through the multihash registry.
func hashMatches(c cid.Cid, data []byte) (bool, error) {
	mh := c.Hash()
	// A sha2-256 multihash is 0x12 0x20 followed by the 32-byte digest.
	if len(mh) == 2+sha256.Size && mh[0] == multihash.SHA2_256 && mh[1] == sha256.Size {
		sum := sha256.Sum256(data)
		return bytes.Equal(mh[2:], sum[:]), nil
	}
	p := c.Prefix()
	got, err := p.Sum(data)
	if err != nil {
		return false, fmt.Errorf("cannot hash with the CID's hash function: %w", err)
	}
	return bytes.Equal(got.Hash(), mh), nil
}

// emptyFileNode is the dag-pb block of an empty UnixFS file as `ipfs add`
// makes it without raw leaves: Data {Type: File, filesize: 0}.
var emptyFileNode = []byte{0x0a, 0x04, 0x08, 0x02, 0x18, 0x00}

// Multihashes of the blocks that hold no content of their own: the empty
// block (the empty file's raw leaf, as ArchiveCache makes it) and the empty
// UnixFS file node.
var (
	emptyBlockHash = sha256Of(nil)
	emptyFileHash  = sha256Of(emptyFileNode)
)

func sha256Of(data []byte) string {
	h, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return string(h)
}

// inline returns the bytes of block c when they are known without any
// store: an identity multihash holds them itself, and the empty block and
// the empty UnixFS file node are the same few bytes whoever made them. So
// an empty file, a friend's included, reads without asking for a block
// that a daemon may not hold and no peer may send.
func inline(c cid.Cid) ([]byte, bool) {
	mh := c.Hash()
	switch string(mh) {
	case emptyBlockHash:
		return []byte{}, true
	case emptyFileHash:
		if c.Type() == cid.DagProtobuf {
			return bytes.Clone(emptyFileNode), true
		}
	}
	if len(mh) > 0 && mh[0] == multihash.IDENTITY {
		if d, err := multihash.Decode(mh); err == nil && d.Code == multihash.IDENTITY && len(d.Digest) <= schema.MaxBlockSize {
			return d.Digest, true
		}
	}
	return nil, false
}

// blockKey is the map key of block c: its multihash. Keying by multihash,
// as kubo's blockstore does, makes the same bytes under two codecs or CID
// versions one block.
func blockKey(c cid.Cid) string { return string(c.Hash()) }

// checkCID refuses the undefined CID, which names no block.
func checkCID(op string, c cid.Cid) error {
	if !c.Defined() {
		return acerr.E(op, "", acerr.Invalid, errors.New("undefined CID"))
	}
	return nil
}

// multihashOf returns the multihash inside a binary CID, the same bytes
// blockKey uses, without allocating. It reports false if b is not a
// well-formed CID.
func multihashOf(b []byte) ([]byte, bool) {
	if len(b) == 34 && b[0] == multihash.SHA2_256 && b[1] == sha256.Size {
		return b, true // CIDv0: the multihash itself
	}
	// version 1, codec, then the multihash: hash code, digest length, digest.
	// Varints must be minimally encoded, as go-cid requires.
	v, n, err := varint.FromUvarint(b)
	if err != nil || v != 1 {
		return nil, false
	}
	_, m, err := varint.FromUvarint(b[n:])
	if err != nil {
		return nil, false
	}
	mh := b[n+m:]
	_, k, err := varint.FromUvarint(mh)
	if err != nil {
		return nil, false
	}
	l, j, err := varint.FromUvarint(mh[k:])
	if err != nil || uint64(len(mh)-k-j) != l {
		return nil, false
	}
	return mh, true
}

func notExist(op string, c cid.Cid) error {
	return acerr.E(op, "", acerr.NotExist, nil).WithCID(c.String())
}
