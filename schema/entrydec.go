package schema

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// Entries are the bulk of every directory and shard block, so they are
// decoded straight from the bytes into Entry values, without the generic
// value tree, and checked for canonical form as they are read: keys in
// canonical order, no field present with its zero value, minimal
// integers, canonical CIDs; then each is held to the rules of
// ValidEntry (valid.go). The node around them is then checked by
// re-encoding it with the entries' bytes copied in (see decode).

// entryKeys are an entry's keys in dag-cbor's canonical order.
var entryKeys = [...]string{"by", "vv", "kind", "mode", "name", "size", "mtime", "owner", "target", "deleted", "conflicts"}

const (
	keyBy = iota
	keyVV
	keyKind
	keyMode
	keyName
	keySize
	keyMtime
	keyOwner
	keyTarget
	keyDeleted
	keyConflicts
)

// rawEntries is a decoded entry list with the bytes it came from.
type rawEntries struct {
	list []Entry
	raw  []byte
}

// entryList decodes a list of entries, sorted by name.
func (d *decoder) entryList(depth int) (*rawEntries, error) {
	start := d.pos
	n, err := d.listHead("entries")
	if err != nil {
		return nil, err
	}
	list := make([]Entry, 0, n)
	for i := uint64(0); i < n; i++ {
		e, err := d.entry(depth + 1)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if i > 0 && list[i-1].Name >= e.Name {
			return nil, fmt.Errorf("entries not sorted by name at %q", e.Name)
		}
		list = append(list, e)
	}
	return &rawEntries{list: list, raw: d.data[start:d.pos]}, nil
}

// listHead decodes the head of the list what, whose length the data
// left must bound before anything is allocated for it.
func (d *decoder) listHead(what string) (uint64, error) {
	major, n, err := d.head()
	if err != nil {
		return 0, err
	}
	if major != majArray || n > uint64(len(d.data)-d.pos) {
		return 0, d.fail("%s is not a list", what)
	}
	return n, nil
}

// childList decodes a tree node's children: [name, link] pairs, in
// ascending order of name.
func (d *decoder) childList() ([]DirChild, error) {
	n, err := d.listHead("children")
	if err != nil {
		return nil, err
	}
	out := make([]DirChild, 0, n)
	for i := range int(n) {
		major, k, err := d.head()
		if err != nil {
			return nil, err
		}
		var c DirChild
		if major == majArray && k == 2 {
			if c.Name, err = d.text(); err == nil {
				c.Link, err = d.cid()
			}
		}
		if major != majArray || k != 2 || err != nil || ValidName(c.Name) != nil {
			return nil, fmt.Errorf("child %d is not a pair of a name and a link", i)
		}
		if i > 0 && out[i-1].Name >= c.Name {
			return nil, errors.New("children not in ascending order of name")
		}
		out = append(out, c)
	}
	return out, nil
}

// entry decodes one entry.
func (d *decoder) entry(depth int) (Entry, error) {
	var e Entry
	if depth > maxDepth {
		return e, d.fail("nested deeper than %d", maxDepth)
	}
	major, n, err := d.head()
	if err != nil {
		return e, err
	}
	if major != majMap || n > uint64(len(entryKeys)) {
		return e, d.fail("entry is not a map of at most %d fields", len(entryKeys))
	}
	var seen [len(entryKeys)]bool
	next := 0
	for i := uint64(0); i < n; i++ {
		key, err := d.textBytes()
		if err != nil {
			return e, err
		}
		k := next
		for k < len(entryKeys) && entryKeys[k] != string(key) {
			k++
		}
		if k == len(entryKeys) {
			for j := range next {
				if entryKeys[j] == string(key) {
					return e, d.fail("entry field %q out of canonical order", key)
				}
			}
			return e, d.fail("unknown field %q", key)
		}
		next, seen[k] = k+1, true
		switch k {
		case keyBy:
			e.By, err = d.identityLink()
		case keyVV:
			e.VV, err = d.vv()
		case keyKind:
			e.Kind, err = d.kind()
		case keyMode:
			var m uint64
			if m, err = d.uintv(); err == nil && (m == 0 || m > math.MaxUint32) {
				err = d.fail("mode %d is zero or not 32 bits", m)
			}
			e.Mode = uint32(m)
		case keyName:
			e.Name, err = d.text()
		case keySize:
			if e.Size, err = d.uintv(); err == nil && e.Size == 0 {
				err = d.fail("size is present but zero")
			}
		case keyMtime:
			e.Mtime, err = d.intv()
		case keyOwner:
			e.Owner, err = d.identityLink()
		case keyTarget:
			e.Target, err = d.cid()
		case keyDeleted:
			if e.Deleted, err = d.boolv(); err == nil && !e.Deleted {
				err = d.fail("deleted is present but false")
			}
		case keyConflicts:
			e.Conflicts, err = d.conflicts(depth, &e)
		}
		if err != nil {
			return e, err
		}
	}
	for _, k := range [...]int{keyVV, keyKind, keyName, keyMtime} {
		if !seen[k] {
			return e, fmt.Errorf("missing field %q", entryKeys[k])
		}
	}
	if err := validVersion(&e); err != nil {
		return e, err
	}
	return e, validConflicts(&e)
}

// conflicts decodes the Conflicts of e, each a valid version; entry
// checks the list.
func (d *decoder) conflicts(depth int, e *Entry) ([]Entry, error) {
	major, n, err := d.head()
	if err != nil {
		return nil, err
	}
	switch {
	case major != majArray || n > MaxConflicts:
		return nil, d.fail("conflicts is not a list of at most %d versions", MaxConflicts)
	case n == 0:
		return nil, fmt.Errorf("entry %q: an empty conflicts list", e.Name)
	}
	out := make([]Entry, 0, n)
	for i := uint64(0); i < n; i++ {
		c, err := d.entry(depth + 1)
		if err != nil {
			return nil, fmt.Errorf("entry %q: conflict %d: %w", e.Name, i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func (d *decoder) text() (string, error) {
	s, err := d.textBytes()
	return string(s), err
}

// textBytes decodes a text string and returns its bytes in the input,
// for a caller that need not keep them.
func (d *decoder) textBytes() ([]byte, error) {
	major, n, err := d.head()
	if err != nil {
		return nil, err
	}
	if major != majText || n > uint64(len(d.data)-d.pos) {
		return nil, d.fail("not a text string")
	}
	s := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	if !utf8.Valid(s) {
		return nil, d.fail("text is not valid UTF-8")
	}
	return s, nil
}

// replica decodes a replica id, allocating each distinct one once per
// decoder: the entries of a block name the same few replicas.
func (d *decoder) replica() (string, error) {
	b, err := d.textBytes()
	if err != nil {
		return "", err
	}
	if s, ok := d.replicas[string(b)]; ok {
		return s, nil
	}
	if d.replicas == nil {
		d.replicas = map[string]string{}
	}
	s := string(b)
	d.replicas[s] = s
	return s, nil
}

// kind decodes an entry's kind, without allocating for the known ones.
func (d *decoder) kind() (Kind, error) {
	start := d.pos
	major, n, err := d.head()
	if err != nil {
		return "", err
	}
	if major == majText && n <= uint64(len(d.data)-d.pos) {
		s := d.data[d.pos : d.pos+int(n)]
		for _, k := range [...]Kind{KindFile, KindDirectory, KindIdentity, KindNode} {
			if string(s) == string(k) {
				d.pos += int(n)
				return k, nil
			}
		}
	}
	d.pos = start
	s, err := d.text()
	return Kind(s), err
}

func (d *decoder) uintv() (uint64, error) {
	major, n, err := d.head()
	if err == nil && major != majUint {
		err = d.fail("not an unsigned integer")
	}
	return n, err
}

func (d *decoder) intv() (int64, error) {
	major, n, err := d.head()
	switch {
	case err != nil:
		return 0, err
	case major == majUint && n <= math.MaxInt64:
		return int64(n), nil
	case major == majNeg && n <= math.MaxInt64:
		return -int64(n) - 1, nil
	}
	return 0, d.fail("not an integer in range")
}

func (d *decoder) boolv() (bool, error) {
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case 0xf4:
			d.pos++
			return false, nil
		case 0xf5:
			d.pos++
			return true, nil
		}
	}
	return false, d.fail("not a boolean")
}

// cid decodes a link: tag 42 on a byte string holding 0x00 and a CID in
// its one binary form.
func (d *decoder) cid() (cid.Cid, error) {
	major, n, err := d.head()
	if err != nil {
		return cid.Undef, err
	}
	if major != majTag || n != tagCID {
		return cid.Undef, d.fail("not a link")
	}
	major, n, err = d.head()
	if err != nil {
		return cid.Undef, err
	}
	if major != majBytes || n < 2 || n > uint64(len(d.data)-d.pos) {
		return cid.Undef, d.fail("malformed CID")
	}
	raw := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	if raw[0] != 0 {
		return cid.Undef, d.fail("CID lacks the multibase identity prefix")
	}
	c, err := cid.Cast(raw[1:])
	if err != nil {
		return cid.Undef, d.fail("malformed CID: %v", err)
	}
	if c.KeyString() != string(raw[1:]) {
		return cid.Undef, d.fail("CID not in its binary form")
	}
	return c, nil
}

// identityLink decodes a link to an identity (an entry's by or owner):
// the entries of a block name the same few, so one met lately is given
// again instead of a new copy.
func (d *decoder) identityLink() (cid.Cid, error) {
	start := d.pos
	// The link's encoding: tag 42, a byte string head, the multibase
	// prefix 0, the CID's bytes.
	if major, n, err := d.head(); err == nil && major == majTag && n == tagCID {
		if major, n, err := d.head(); err == nil && major == majBytes && n >= 2 && n <= uint64(len(d.data)-d.pos) && d.data[d.pos] == 0 {
			raw := d.data[d.pos+1 : d.pos+int(n)]
			for _, id := range d.identities {
				if id.Defined() && id.KeyString() == string(raw) {
					d.pos += int(n)
					return id, nil
				}
			}
		}
	}
	d.pos = start
	c, err := d.cid()
	if err == nil {
		d.identities[d.nextID] = c
		d.nextID = (d.nextID + 1) % len(d.identities)
	}
	return c, err
}

// vv decodes a version vector: replica ids in canonical key order, each
// with its counter.
func (d *decoder) vv() (VV, error) {
	major, n, err := d.head()
	if err != nil {
		return nil, err
	}
	if major != majMap || n > MaxReplicas || n > uint64(len(d.data)-d.pos)/2 {
		return nil, d.fail("vv is not a map of at most %d replicas", MaxReplicas)
	}
	vv := make(VV, n)
	prev := ""
	for i := uint64(0); i < n; i++ {
		k, err := d.replica()
		if err != nil {
			return nil, err
		}
		if i > 0 && !keyLess(prev, k) {
			return nil, d.fail("vv entry %q out of order", k)
		}
		if vv[k], err = d.uintv(); err != nil {
			return nil, err
		}
		prev = k
	}
	return vv, nil
}
