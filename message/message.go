package message

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Version is the envelope version this package writes and reads.
const Version = 1

// Limits. A message is small by design: it names a root and proves who
// signed it; bulk data travels as blocks over IPFS or as a CAR file.
const (
	// MaxCompressed is the largest zlib stream accepted or written.
	MaxCompressed = 64 << 10
	// MaxJSON is the most a message may decompress to. Decompression
	// stops one byte past it, so a zlib bomb costs at most this much
	// memory and time.
	MaxJSON = 1 << 20
	// MaxText is the longest base64 text, whitespace not counted: the
	// padded base64 length of MaxCompressed bytes.
	MaxText = (MaxCompressed + 2) / 3 * 4
	// MaxInput is the most Parse, ToJSON and ReadInput look at, counting
	// the whitespace of line-wrapped base64 text and the letter around an
	// armoured message (EncodeText). Anything longer is refused before
	// any work.
	MaxInput = 256 << 10
	// MaxJSONInput is the longest JSON FromJSON and ReadJSON take: room
	// for the indentation ToJSON adds to a message of MaxJSON bytes.
	MaxJSONInput = 2 * MaxJSON
)

// Kind says what a message carries.
type Kind string

const (
	// KindReference carries a signed node and its owner's identity,
	// nothing else.
	KindReference Kind = "reference"
	// KindContent also carries the directory structure under the node:
	// every directory and shard block, never file contents.
	KindContent Kind = "content"
)

// Envelope is the JSON form of a message. Its field order, and the sorted
// keys of Blocks, are the canonical order; a message is always written as
// compact JSON in that order, and Parse refuses any other spelling.
type Envelope struct {
	Version   int               `json:"version"`
	Kind      Kind              `json:"kind"`
	Policy    schema.Kind       `json:"policy"`
	IPFSHash  string            `json:"ipfs_hash"` // CID of the node
	Owner     string            `json:"owner"`     // CID of the owner's identity
	Name      string            `json:"name"`      // the owner's display name
	Seq       uint64            `json:"seq,omitempty"`
	Signature string            `json:"signature"` // base64 of the node's sig
	Blocks    map[string]string `json:"blocks"`    // CID → base64 of the block
}

// Message is a parsed and verified message: the envelope and what it
// proves. Blocks holds every carried block by CID, the node's and the
// owner's included; each has been checked against its CID.
type Message struct {
	Envelope
	NodeCID  cid.Cid
	Node     schema.Object
	OwnerCID cid.Cid
	Owner    *schema.Identity
	Blocks   map[cid.Cid][]byte
}

// Parse reads a message from raw zlib bytes or from base64 text (standard
// or URL alphabet, padded or not, line-wrapped or not) and verifies it
// completely: limits, strict canonical JSON, known version, kind and
// policy, every block against its CID, the node against the envelope, the
// owner's self-signature, the node's signature under the owner's key, and
// the set of blocks carried (see the package documentation).
//
// Parse does not know who the reader's friends are: a message that
// verifies proves only that its owner signed it. Whether to accept it is
// policy.Check's question, asked with the reader's own Resolver.
func Parse(input []byte) (*Message, error) {
	const op = "message.Parse"
	js, err := open(input)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	env, err := decodeJSON(js, true)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	f, err := env.fields()
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	m, err := verify(env, f)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err).WithCID(env.IPFSHash)
	}
	return m, nil
}

// ToJSON returns a message as indented JSON for people to read. It
// enforces the limits and the strict syntax of the envelope, but verifies
// neither hashes nor signatures, so that a forged or damaged message can
// still be inspected. It adds nothing that is not in the envelope.
func ToJSON(input []byte) ([]byte, error) {
	const op = "message.ToJSON"
	js, err := open(input)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	env, err := decodeJSON(js, true)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	if _, err := env.fields(); err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	return marshalIndent(env), nil
}

// FromJSON turns the JSON form of a message, indented or compact, back
// into a message: it parses strictly (no unknown or duplicate fields, no
// trailing data), checks the envelope's syntax as ToJSON does, writes
// compact canonical JSON and compresses it. Like ToJSON it verifies no
// signature: whatever it builds, Parse will judge.
func FromJSON(data []byte) ([]byte, error) {
	const op = "message.FromJSON"
	if len(data) > MaxJSONInput {
		return nil, acerr.E(op, "", acerr.TooLarge, fmt.Errorf("JSON is %d bytes, limit %d", len(data), MaxJSONInput))
	}
	env, err := decodeJSON(data, false)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	if _, err := env.fields(); err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	out, err := seal(env)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	return out, nil
}

// ReadInput reads a message from r, raw or base64, refusing more than
// MaxInput bytes without reading much further.
func ReadInput(r io.Reader) ([]byte, error) {
	return readLimited("message.ReadInput", r, MaxInput, "a message")
}

// ReadJSON reads the JSON form of a message from r, for FromJSON,
// refusing more than MaxJSONInput bytes without reading much further.
func ReadJSON(r io.Reader) ([]byte, error) {
	return readLimited("message.ReadJSON", r, MaxJSONInput, "the JSON of a message")
}

// readLimited reads r to its end if that is at most limit bytes, and
// otherwise fails with acerr.TooLarge stating the limit: input is never
// cut short silently.
func readLimited(op string, r io.Reader, limit int64, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, acerr.E(op, "", acerr.IO, err)
	}
	if int64(len(data)) > limit {
		return nil, acerr.E(op, "", acerr.TooLarge, fmt.Errorf("input is longer than %d bytes, the limit of %s", limit, what))
	}
	return data, nil
}

// NewReference builds a reference message for a signed node (identity_v1,
// node_v1 or owned directory_v1) from its block and its owner's identity
// block; for an identity, ownerBlock may be nil. It returns the zlib
// bytes, after checking them with Parse.
func NewReference(nodeBlock, ownerBlock []byte) ([]byte, error) {
	const op = "message.NewReference"
	nodeCID := schema.Sum(nodeBlock)
	env, _, err := envelopeFor(KindReference, nodeBlock, ownerBlock)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err).WithCID(nodeCID.String())
	}
	out, err := seal(env)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Other, err).WithCID(nodeCID.String())
	}
	if _, err := Parse(out); err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	return out, nil
}

// NewContent builds a content message: a reference to the signed node
// nodeCID plus every directory and shard block under it, fetched with get
// (file contents are never included). Each fetched block is checked
// against its CID. When the whole does not fit the limits it fails with
// acerr.TooLarge: send a CAR file (ac-export) instead.
func NewContent(ctx context.Context, get func(context.Context, cid.Cid) ([]byte, error), nodeCID cid.Cid, ownerBlock []byte) ([]byte, error) {
	const op = "message.NewContent"
	fail := func(err error) ([]byte, error) {
		return nil, acerr.E(op, "", acerr.Other, err).WithCID(nodeCID.String())
	}
	nodeBlock, err := fetch(ctx, get, nodeCID)
	if err != nil {
		return fail(err)
	}
	env, node, err := envelopeFor(KindContent, nodeBlock, ownerBlock)
	if err != nil {
		return fail(err)
	}
	// Fetch breadth-first, stopping as soon as the blocks alone pass the
	// JSON limit, so a huge tree costs little before it is refused.
	size := len(marshal(env))
	queue := structure(node)
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		key := l.c.String()
		if _, ok := env.Blocks[key]; ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(acerr.E("", "", acerr.Other, err))
		}
		data, err := fetch(ctx, get, l.c)
		if err != nil {
			return fail(err)
		}
		n, err := schema.Decode(data)
		if err != nil {
			return fail(acerr.E("", "", acerr.Other, fmt.Errorf("block %s: %w", key, err)))
		}
		if n.Kind() != l.kind {
			return fail(acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s is linked as %s but is %s", key, l.kind.Noun(), n.Kind().Noun())))
		}
		env.Blocks[key] = base64.StdEncoding.EncodeToString(data)
		size += len(key) + len(env.Blocks[key]) + 6 // quotes, colon, comma
		if size > MaxJSON {
			return fail(tooLargeForContent(nodeCID, fmt.Sprintf("its directory structure passes %d bytes of JSON", MaxJSON)))
		}
		queue = append(queue, structure(n)...)
	}
	out, err := seal(env)
	if acerr.Is(acerr.TooLarge, err) {
		return fail(tooLargeForContent(nodeCID, errors.Unwrap(err).Error()))
	}
	if err != nil {
		return fail(err)
	}
	if _, err := Parse(out); err != nil {
		return nil, acerr.E(op, "", acerr.Other, err)
	}
	return out, nil
}

func tooLargeForContent(c cid.Cid, why string) error {
	return acerr.E("", "", acerr.TooLarge, fmt.Errorf(
		"the content of %s does not fit in a message (%s); send a CAR file made with ac-export instead", policy.Short(c), why))
}

func fetch(ctx context.Context, get func(context.Context, cid.Cid) ([]byte, error), c cid.Cid) ([]byte, error) {
	data, err := get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", c, err)
	}
	if got := schema.Sum(data); !got.Equals(c) {
		return nil, acerr.E("", "", acerr.Integrity, fmt.Errorf("block %s: bytes hash to %s", c, got))
	}
	return data, nil
}

// envelopeFor fills an envelope for a signed node and its owner.
func envelopeFor(kind Kind, nodeBlock, ownerBlock []byte) (*Envelope, schema.Object, error) {
	node, err := schema.Decode(nodeBlock)
	if err != nil {
		return nil, nil, fmt.Errorf("node block: %w", err)
	}
	var seq uint64
	var owner cid.Cid
	switch n := node.(type) {
	case *schema.Identity:
		if ownerBlock != nil && !bytes.Equal(ownerBlock, nodeBlock) {
			return nil, nil, acerr.E("", "", acerr.Invalid, errors.New("an identity is its own owner; give no other owner block"))
		}
		ownerBlock = nodeBlock
		owner = schema.Sum(nodeBlock)
	case *schema.Node:
		seq, owner = n.Seq, n.Owner
	case *schema.Directory:
		if !n.Owned() {
			return nil, nil, acerr.E("", "", acerr.Invalid, errors.New("a shared directory_v1 is not signed; only signed nodes travel in messages"))
		}
		seq, owner = n.Seq, n.Owner
	default:
		return nil, nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("a %s is not signed; only signed nodes travel in messages", node.Kind()))
	}
	id, err := schema.DecodeAs[*schema.Identity](ownerBlock)
	if err != nil {
		return nil, nil, fmt.Errorf("owner block: %w", err)
	}
	env := &Envelope{
		Version:   Version,
		Kind:      kind,
		Policy:    node.Kind(),
		IPFSHash:  schema.Sum(nodeBlock).String(),
		Owner:     owner.String(),
		Name:      id.Name,
		Seq:       seq,
		Signature: base64.StdEncoding.EncodeToString(node.(schema.Signed).Signature()),
		Blocks: map[string]string{
			schema.Sum(nodeBlock).String():  base64.StdEncoding.EncodeToString(nodeBlock),
			schema.Sum(ownerBlock).String(): base64.StdEncoding.EncodeToString(ownerBlock),
		},
	}
	return env, node, nil
}

// seal writes env as canonical JSON and compresses it, within the limits.
func seal(env *Envelope) ([]byte, error) {
	js := marshal(env)
	if len(js) > MaxJSON {
		return nil, acerr.E("", "", acerr.TooLarge, fmt.Errorf("JSON is %d bytes, limit %d", len(js), MaxJSON))
	}
	z := compress(js)
	if len(z) > MaxCompressed {
		return nil, acerr.E("", "", acerr.TooLarge, fmt.Errorf("compressed message is %d bytes, limit %d", len(z), MaxCompressed))
	}
	return z, nil
}

// link is a link the directory structure follows, with the kind its
// target must have.
type link struct {
	c    cid.Cid
	kind schema.Kind
}

// structure returns the links of n that belong to the directory structure
// under it (schema.LinkStructure): a node's root, a directory's
// subdirectories and shard, a shard's children and subdirectories. Files,
// identities, owners and previous versions are not followed.
func structure(n schema.Object) []link {
	var out []link
	for _, l := range schema.Links(n) {
		if l.Role == schema.LinkStructure {
			out = append(out, link{l.CID, l.Kind})
		}
	}
	return out
}

// sortedKeys returns m's keys in order, so that errors name the same
// block every time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
