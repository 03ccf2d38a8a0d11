package schema

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

// invalidEntries are entries ValidEntry refuses, with the kind it gives.
func invalidEntries() []struct {
	name string
	e    Entry
	kind acerr.Kind
} {
	file := Entry{Name: "a", Kind: KindFile, Target: testCID("a"), Mtime: 1, VV: VV{"r1": 1}}
	with := func(edit func(e *Entry)) Entry {
		e := file
		e.VV = VV{"r1": 1}
		edit(&e)
		return e
	}
	manyVV := VV{}
	for i := range MaxReplicas + 1 {
		manyVV[fmt.Sprint(i)] = 1
	}
	var many []Entry
	for i := range MaxConflicts + 2 {
		many = append(many, with(func(e *Entry) { e.VV = VV{fmt.Sprint("r", i): 1} }))
	}
	conflicted := conflicted()[0]
	// withConflicts is conflicted with its conflicts edited.
	withConflicts := func(edit func(cs []Entry) []Entry) Entry {
		e := conflicted
		e.Conflicts = edit(slices.Clone(e.Conflicts))
		return e
	}
	swapped := conflicted.Conflicts[0]
	swapped.Conflicts = []Entry{conflicted.Versions()[0], conflicted.Conflicts[1]}
	return []struct {
		name string
		e    Entry
		kind acerr.Kind
	}{
		{"empty name", with(func(e *Entry) { e.Name = "" }), acerr.Invalid},
		{"name with a slash", with(func(e *Entry) { e.Name = "a/b" }), acerr.Invalid},
		{"reserved name", with(func(e *Entry) { e.Name = ".." }), acerr.Invalid},
		{"unknown kind", with(func(e *Entry) { e.Kind = "blob_v1" }), acerr.Invalid},
		{"live without a target", with(func(e *Entry) { e.Target = cid.Undef }), acerr.Invalid},
		{"deleted file with a target", with(func(e *Entry) { e.Deleted = true }), acerr.Invalid},
		{"file with an owner", with(func(e *Entry) { e.Owner = testCID("alice") }), acerr.Invalid},
		{"size too large", with(func(e *Entry) { e.Size = MaxUint + 1 }), acerr.Invalid},
		{"mode too large", with(func(e *Entry) { e.Mode = MaxMode + 1 }), acerr.Invalid},
		{"empty replica id", with(func(e *Entry) { e.VV = VV{"": 1} }), acerr.Invalid},
		{"long replica id", with(func(e *Entry) { e.VV = VV{strings.Repeat("r", MaxReplicaLen+1): 1} }), acerr.Invalid},
		{"too many replicas", with(func(e *Entry) { e.VV = manyVV }), acerr.TooLarge},
		{"too many conflicts", func() Entry { e := many[0]; e.Conflicts = many[1:]; return e }(), acerr.TooLarge},
		{"conflict named otherwise", withConflicts(func(cs []Entry) []Entry { cs[0].Name = "other"; return cs }), acerr.Invalid},
		{"conflict with conflicts", withConflicts(func(cs []Entry) []Entry { cs[1].Conflicts = []Entry{file}; return cs }), acerr.Invalid},
		{"invalid conflict", withConflicts(func(cs []Entry) []Entry { cs[0].Kind = "blob_v1"; return cs }), acerr.Invalid},
		{"conflicts out of order", withConflicts(func(cs []Entry) []Entry { slices.Reverse(cs); return cs }), acerr.Invalid},
		{"conflict twice", withConflicts(func(cs []Entry) []Entry { return []Entry{cs[0], cs[0]} }), acerr.Invalid},
		{"shown version not on top", swapped, acerr.Invalid},
	}
}

// TestValidEntry: ValidEntry accepts every sample entry and refuses the
// invalid ones with their kind, as an error without op or path.
func TestValidEntry(t *testing.T) {
	for _, e := range append(sampleEntries(), conflicted()...) {
		if err := ValidEntry(&e); err != nil {
			t.Errorf("ValidEntry(%q) = %v, want nil", e.Name, err)
		}
	}
	for _, tt := range invalidEntries() {
		err := ValidEntry(&tt.e)
		ae, ok := err.(*acerr.Error)
		if !ok || ae.Kind != tt.kind || ae.Op != "" || ae.Path != "" {
			t.Errorf("%s: ValidEntry = %#v, want an *acerr.Error of kind %q without op or path", tt.name, err, tt.kind)
		}
	}
}

// TestDecodeAppliesValidEntry: Decode refuses a directory holding an
// entry exactly when ValidEntry refuses the entry, so the rules are the
// same ones for writers and readers.
func TestDecodeAppliesValidEntry(t *testing.T) {
	for _, e := range append(sampleEntries(), conflicted()...) {
		got, err := DecodeAs[*Directory](Encode(&Directory{Entries: []Entry{e}}))
		if err != nil || !SameEntry(&got.Entries[0], &e) {
			t.Errorf("Decode(directory with %q) = %v; want the entry back", e.Name, err)
		}
	}
	for _, tt := range invalidEntries() {
		if _, err := Decode(Encode(&Directory{Entries: []Entry{tt.e}})); !acerr.Is(acerr.Invalid, err) {
			t.Errorf("%s: Decode(directory holding it) = %v, want Invalid", tt.name, err)
		}
	}
}
