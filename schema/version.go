package schema

import (
	"bytes"
	"maps"
)

// Order is how two version vectors relate.
type Order int

const (
	Equal      Order = iota // the same counters
	Before                  // every counter of a is at most b's, and one is less
	After                   // the other way round
	Concurrent              // each has a counter the other lacks
)

func (o Order) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	}
	return "concurrent"
}

// Compare tells how a relates to b. A missing replica counts as zero.
func (a VV) Compare(b VV) Order {
	less, more := false, false
	for r, n := range a {
		switch m := b[r]; {
		case n < m:
			less = true
		case n > m:
			more = true
		}
	}
	for r, m := range b {
		if _, ok := a[r]; !ok && m > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Join returns the counter-wise maximum of a and b, a new map.
func (a VV) Join(b VV) VV {
	out := maps.Clone(a)
	if out == nil {
		out = VV{}
	}
	for r, m := range b {
		if m > out[r] {
			out[r] = m
		}
	}
	return out
}

// Prefer reports whether version a of a name is the one shown under the
// name rather than version b, when the two are concurrent: a live version
// before a tombstone, then the later Mtime, then the larger Target (as
// bytes), then the larger encoding. It is a strict total order on
// distinct versions, so every replica picks the same one. Conflicts are
// not compared.
func Prefer(a, b *Entry) bool {
	if a.Deleted != b.Deleted {
		return !a.Deleted
	}
	if a.Mtime != b.Mtime {
		return a.Mtime > b.Mtime
	}
	if c := bytes.Compare(a.Target.Bytes(), b.Target.Bytes()); c != 0 {
		return c > 0
	}
	return bytes.Compare(bareEncoding(a), bareEncoding(b)) > 0
}

// bareEncoding is the encoding of e without its Conflicts.
func bareEncoding(e *Entry) []byte {
	if len(e.Conflicts) == 0 {
		return EncodeEntry(e)
	}
	bare := *e
	bare.Conflicts = nil
	return EncodeEntry(&bare)
}

// Versions returns e and its Conflicts as separate versions, each without
// Conflicts: the set of concurrent versions this entry stands for.
func (e *Entry) Versions() []Entry {
	out := make([]Entry, 0, 1+len(e.Conflicts))
	bare := *e
	bare.Conflicts = nil
	out = append(out, bare)
	return append(out, e.Conflicts...)
}

// FromVersions is the inverse of Versions: the entry that stands for a
// set of pairwise concurrent versions of one name, with the one Prefer
// puts first on top and the others as its Conflicts in canonical order.
// vs must not be empty; it is reordered.
func FromVersions(vs []Entry) Entry {
	top := 0
	for i := 1; i < len(vs); i++ {
		if Prefer(&vs[i], &vs[top]) {
			top = i
		}
	}
	vs[0], vs[top] = vs[top], vs[0]
	e := vs[0]
	e.Conflicts = nil
	if len(vs) > 1 {
		rest := vs[1:]
		enc := make([][]byte, len(rest))
		for i := range rest {
			rest[i].Conflicts = nil
			enc[i] = EncodeEntry(&rest[i])
		}
		sortByKeys(rest, enc)
		e.Conflicts = append([]Entry(nil), rest...)
	}
	return e
}

// sortByKeys sorts entries by their encodings, ascending (insertion sort:
// conflict lists are short).
func sortByKeys(entries []Entry, keys [][]byte) {
	for i := 1; i < len(entries); i++ {
		for j := i; j > 0 && bytes.Compare(keys[j-1], keys[j]) > 0; j-- {
			entries[j-1], entries[j] = entries[j], entries[j-1]
			keys[j-1], keys[j] = keys[j], keys[j-1]
		}
	}
}
