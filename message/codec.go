package message

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func invalid(format string, args ...any) error {
	return acerr.E("", "", acerr.Invalid, fmt.Errorf(format, args...))
}

func tooLarge(format string, args ...any) error {
	return acerr.E("", "", acerr.TooLarge, fmt.Errorf(format, args...))
}

// open turns raw or base64 input into the message's JSON, enforcing every
// size limit on the way.
func open(input []byte) ([]byte, error) {
	z, err := unwrap(input)
	if err != nil {
		return nil, err
	}
	return inflate(z)
}

// isZlib reports whether b starts with a zlib header for a deflate stream
// with a 32 KiB window and no preset dictionary: 0x78, then a byte that
// makes the pair a multiple of 31. No base64 text starts that way.
func isZlib(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x78 && (uint(b[0])<<8|uint(b[1]))%31 == 0 && b[1]&0x20 == 0
}

// unwrap returns the zlib bytes of raw or base64 input.
func unwrap(input []byte) ([]byte, error) {
	if len(input) > MaxInput {
		return nil, tooLarge("input is %d bytes, limit %d", len(input), MaxInput)
	}
	if isZlib(input) {
		if len(input) > MaxCompressed {
			return nil, tooLarge("compressed message is %d bytes, limit %d", len(input), MaxCompressed)
		}
		return input, nil
	}
	if armored, ok, err := unarmor(input); err != nil {
		return nil, err
	} else if ok {
		input = armored
	}
	text := make([]byte, 0, len(input))
	for _, c := range input {
		switch c {
		case ' ', '\t', '\r', '\n', '\v', '\f':
		default:
			text = append(text, c)
		}
	}
	if len(text) == 0 {
		return nil, invalid("empty input")
	}
	if len(text) > MaxText {
		return nil, tooLarge("base64 text is %d characters, limit %d", len(text), MaxText)
	}
	enc := base64.StdEncoding
	if bytes.ContainsAny(text, "-_") {
		enc = base64.URLEncoding
	}
	if len(text)%4 != 0 && !bytes.HasSuffix(text, []byte("=")) {
		enc = enc.WithPadding(base64.NoPadding)
	}
	z := make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(z, text)
	if err != nil {
		return nil, invalid("input is neither zlib data nor base64 text (%v)", err)
	}
	z = z[:n]
	if !isZlib(z) {
		return nil, invalid("base64 text does not hold zlib data")
	}
	if len(z) > MaxCompressed {
		return nil, tooLarge("compressed message is %d bytes, limit %d", len(z), MaxCompressed)
	}
	return z, nil
}

// inflate decompresses z, stopping one byte past MaxJSON.
func inflate(z []byte) ([]byte, error) {
	br := bytes.NewReader(z)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, invalid("not zlib data (%v)", err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, MaxJSON+1))
	if len(js) > MaxJSON {
		return nil, tooLarge("message decompresses to more than %d bytes", MaxJSON)
	}
	switch {
	case errors.Is(err, zlib.ErrChecksum):
		return nil, acerr.E("", "", acerr.Integrity, errors.New("compressed data fails its checksum"))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, invalid("compressed data is truncated")
	case err != nil:
		return nil, invalid("corrupt compressed data (%v)", err)
	}
	// bytes.Reader is an io.ByteReader, so the decompressor read exactly
	// the stream and nothing after it.
	if br.Len() > 0 {
		return nil, invalid("%d bytes after the end of the compressed data", br.Len())
	}
	return js, nil
}

func compress(js []byte) []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression) // the level is valid
	zw.Write(js)                                             // a bytes.Buffer does not fail
	zw.Close()
	return buf.Bytes()
}

// marshal writes env as canonical JSON: compact, fields in struct order,
// block keys sorted, no HTML escaping.
func marshal(env *Envelope) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(env) // an Envelope always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func marshalIndent(env *Envelope) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(env)
	return buf.Bytes()
}

// envelopeKey reports whether key is a JSON key of an envelope, spelled
// exactly.
func envelopeKey(key string) bool {
	switch key {
	case "version", "kind", "policy", "ipfs_hash", "owner", "name", "seq", "signature", "blocks":
		return true
	}
	return false
}

// clip shortens an untrusted string for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > max-4; i-- { // do not cut a UTF-8 sequence
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:max] + "…"
}

// decodeJSON parses an envelope strictly: valid UTF-8, one object, only
// the envelope's keys spelled exactly, each at most once, no null, no
// trailing data. With canonical set, the bytes must also be exactly what
// marshal writes for the result, which is how a message is always written.
func decodeJSON(js []byte, canonical bool) (*Envelope, error) {
	if !utf8.Valid(js) {
		return nil, invalid("JSON is not valid UTF-8")
	}
	if err := checkKeys(js); err != nil {
		return nil, invalid("JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	env := new(Envelope)
	if err := dec.Decode(env); err != nil {
		return nil, invalid("JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if canonical && !bytes.Equal(marshal(env), js) {
		return nil, invalid("JSON is not in canonical form (compact, fields in order, no escapes beyond the necessary)")
	}
	return env, nil
}

// checkKeys walks the tokens of js and refuses what encoding/json lets
// through: keys in the wrong case, duplicate keys, null values, values
// of the wrong shape and trailing data.
func checkKeys(js []byte) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	delim := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return fmt.Errorf("want %q, found %v", want, tok)
		}
		return nil
	}
	if err := delim('{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // inside an object, Token returns keys as strings
		if !envelopeKey(key) {
			return fmt.Errorf("unknown field %q", clip(key))
		}
		if seen[key] {
			return fmt.Errorf("duplicate field %q", key)
		}
		seen[key] = true
		if key == "blocks" {
			if err := checkBlocks(dec); err != nil {
				return err
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case string, json.Number:
		default:
			return fmt.Errorf("field %q is not a string or a number", key)
		}
	}
	if err := delim('}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the object")
	}
	return nil
}

func checkBlocks(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New(`field "blocks" is not an object`)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string)
		if seen[key] {
			return fmt.Errorf("duplicate block %q", clip(key))
		}
		seen[key] = true
		tok, err = dec.Token()
		if err != nil {
			return err
		}
		if _, ok := tok.(string); !ok {
			return fmt.Errorf("block %q is not a string", clip(key))
		}
	}
	_, err = dec.Token() // the closing '}': More said so
	return err
}

// envFields holds the decoded values of an envelope's fields.
type envFields struct {
	node, owner cid.Cid
	sig         []byte
	blocks      map[cid.Cid][]byte
}

// fields checks the syntax of every field and decodes the CIDs and the
// base64. It checks no relation between fields: that is verify's work.
func (env *Envelope) fields() (*envFields, error) {
	if env.Version != Version {
		return nil, invalid("unknown version %d", env.Version)
	}
	switch env.Kind {
	case KindReference, KindContent:
	default:
		return nil, invalid("unknown kind %q", clip(string(env.Kind)))
	}
	switch env.Policy {
	case schema.KindIdentity, schema.KindNode, schema.KindDirectory:
	default:
		return nil, invalid("unknown policy %q", clip(string(env.Policy)))
	}
	var f envFields
	var err error
	if f.node, err = parseCID("ipfs_hash", env.IPFSHash); err != nil {
		return nil, err
	}
	if f.owner, err = parseCID("owner", env.Owner); err != nil {
		return nil, err
	}
	if env.Name == "" || len(env.Name) > schema.MaxNameLen {
		return nil, invalid("name must be 1..%d bytes", schema.MaxNameLen)
	}
	if f.sig, err = decodeBase64("signature", env.Signature); err != nil {
		return nil, err
	}
	if len(f.sig) != schema.SigSize {
		return nil, invalid("signature is %d bytes, want %d", len(f.sig), schema.SigSize)
	}
	if len(env.Blocks) == 0 {
		return nil, invalid("no blocks")
	}
	f.blocks = make(map[cid.Cid][]byte, len(env.Blocks))
	for _, key := range sortedKeys(env.Blocks) {
		c, err := parseCID("block", key)
		if err != nil {
			return nil, err
		}
		data, err := decodeBase64("block "+key, env.Blocks[key])
		if err != nil {
			return nil, err
		}
		if len(data) == 0 || len(data) > schema.MaxBlockSize {
			return nil, invalid("block %s is %d bytes, want 1..%d", key, len(data), schema.MaxBlockSize)
		}
		f.blocks[c] = data
	}
	return &f, nil
}

// parseCID parses a CID in its canonical string form (CIDv1, base32) and
// requires the only kind of CID a node has: dag-cbor, sha2-256.
func parseCID(field, s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, invalid("%s %q is not a CID", field, clip(s))
	}
	if c.String() != s {
		return cid.Undef, invalid("%s %q is not in canonical form", field, clip(s))
	}
	p := c.Prefix()
	if p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != multihash.SHA2_256 || p.MhLength != sha256.Size {
		return cid.Undef, invalid("%s %s is not a dag-cbor sha2-256 CIDv1", field, clip(s))
	}
	return c, nil
}

// decodeBase64 decodes standard padded base64 and requires the one
// canonical spelling, so that a message has exactly one JSON form.
func decodeBase64(field, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, invalid("%s is not canonical base64", field)
	}
	return b, nil
}
