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

// SameEntry reports whether a and b encode alike: the same version of a
// name, conflicts included. The encoding is canonical, a function of the
// fields alone, so the fields are compared instead of encoded.
func SameEntry(a, b *Entry) bool {
	if a.Name != b.Name || a.Kind != b.Kind || a.Size != b.Size || a.Mode != b.Mode || a.Mtime != b.Mtime ||
		a.Deleted != b.Deleted || !a.Target.Equals(b.Target) || !a.By.Equals(b.By) || !a.Owner.Equals(b.Owner) ||
		!maps.Equal(a.VV, b.VV) || len(a.Conflicts) != len(b.Conflicts) {
		return false
	}
	for i := range a.Conflicts {
		if !SameEntry(&a.Conflicts[i], &b.Conflicts[i]) {
			return false
		}
	}
	return true
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

// Supersedes reports whether version y supersedes version x of a name:
// x's version vector is before y's, and y is of x's class: when x has an
// Owner (a version of an owned directory, or its deletion by the owner),
// y has the same Owner; when x is a shared directory (live or deleted), y
// is one too.
//
// Nothing else replaces an owned directory: a change without the owner's
// key leaves it standing beside the change, and once deleted by its owner
// the hidden deletion stays until the owner makes the directory again.
// Nor does anything but a shared directory replace a shared directory:
// the contents of its versions merge as one, so a version replaced by
// something else (a file, an owned directory) would leave its contents in
// the merges that met it beside a concurrent version and not in the
// others. So a file put where a directory was deleted stands beside the
// directory's tombstone, which stays hidden, and a directory made there
// again continues from it. The relation is transitive, so merging sets of
// versions by it is associative.
func Supersedes(y, x *Entry) bool {
	if x.VV.Compare(y.VV) != Before {
		return false
	}
	switch {
	case x.Owner.Defined():
		return y.Owner.Equals(x.Owner)
	case x.Kind == KindDirectory:
		return y.Kind == KindDirectory && !y.Owner.Defined()
	}
	return true
}

// Superseded reports whether another version in vs supersedes vs[i].
func Superseded(vs []Entry, i int) bool {
	for j := range vs {
		if j != i && Supersedes(&vs[j], &vs[i]) {
			return true
		}
	}
	return false
}

// shownIndex returns the index of the version shown under the name: the
// one Prefer puts first among those no other version supersedes.
func shownIndex(vs []Entry) int {
	top := -1
	for i := range vs {
		if Superseded(vs, i) {
			continue
		}
		if top < 0 || Prefer(&vs[i], &vs[top]) {
			top = i
		}
	}
	if top < 0 { // a cycle, which version vectors cannot make
		top = 0
	}
	return top
}

// FromVersions is the inverse of Versions: the entry that stands for a
// set of versions of one name, with the shown one (the first by Prefer
// among those no other supersedes) on top and the others as its
// Conflicts in canonical order. vs must not be empty, and its versions
// must be distinct; it is reordered.
func FromVersions(vs []Entry) Entry {
	top := shownIndex(vs)
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
