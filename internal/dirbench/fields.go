package dirbench

import (
	"fmt"
	"io"

	"github.com/archivecache/archivecache/schema"
)

// FieldBytes is the mean bytes one field takes in an entry, in today's
// encoding and in the compact one: its key and its value.
type FieldBytes struct {
	Field          string
	Today, Compact float64
}

func encoded(write func(w *cborWriter)) int {
	w := &cborWriter{}
	write(w)
	return len(w.buf)
}

// Fields breaks the entries' encodings down by field. Compact's leaf
// tables are one row, shared out over leaves of perLeaf entries. It
// fails if the parts do not add up to the encodings' sizes.
func Fields(entries []schema.Entry, perLeaf int) ([]FieldBytes, error) {
	rows := []FieldBytes{{Field: "map header"}, {Field: "name"}, {Field: "kind"}, {Field: "target"}, {Field: "size"},
		{Field: "mode"}, {Field: "mtime"}, {Field: "vv"}, {Field: "by"}, {Field: "leaf tables (by, replicas)"}}
	var today, compact int
	for i := range entries {
		e := &entries[i]
		if e.Deleted || e.Owner.Defined() || len(e.Conflicts) > 0 {
			return nil, fmt.Errorf("entry %q: only live entries without owner or conflicts are broken down", e.Name)
		}
		key := func(k string) int { return encoded(func(w *cborWriter) { w.text(k) }) }
		opt := func(present bool, n int) int {
			if present {
				return n
			}
			return 0
		}
		vvToday := encoded(func(w *cborWriter) {
			w.head(majMap, uint64(len(e.VV)))
			for r, c := range e.VV {
				w.text(r)
				w.uint(c)
			}
		})
		vvCompact := encoded(func(w *cborWriter) {
			w.head(majArray, uint64(2*len(e.VV)))
			for _, c := range e.VV {
				w.uint(0)
				w.uint(c)
			}
		})
		parts := [][2]int{
			{1, 1},
			{key("name") + encoded(func(w *cborWriter) { w.text(e.Name) }), key("n") + encoded(func(w *cborWriter) { w.text(e.Name) })},
			{key("kind") + encoded(func(w *cborWriter) { w.text(string(e.Kind)) }), key("k") + 1},
			{opt(e.Target.Defined(), key("target")+encoded(func(w *cborWriter) { w.link(e.Target) })), opt(e.Target.Defined(), key("t")+encoded(func(w *cborWriter) { w.link(e.Target) }))},
			{opt(e.Size != 0, key("size")+encoded(func(w *cborWriter) { w.uint(e.Size) })), opt(e.Size != 0, key("s")+encoded(func(w *cborWriter) { w.uint(e.Size) }))},
			{opt(e.Mode != 0, key("mode")+encoded(func(w *cborWriter) { w.uint(uint64(e.Mode)) })), opt(e.Mode != 0, key("m")+encoded(func(w *cborWriter) { w.uint(uint64(e.Mode)) }))},
			{key("mtime") + encoded(func(w *cborWriter) { w.int(e.Mtime) }), key("u") + encoded(func(w *cborWriter) { w.int(e.Mtime) })},
			{key("vv") + vvToday, key("v") + vvCompact},
			{opt(e.By.Defined(), key("by")+encoded(func(w *cborWriter) { w.link(e.By) })), opt(e.By.Defined(), key("b")+1)},
		}
		sumT, sumC := 0, 0
		for j, p := range parts {
			rows[j].Today += float64(p[0])
			rows[j].Compact += float64(p[1])
			sumT, sumC = sumT+p[0], sumC+p[1]
		}
		if sumT != schema.EntrySize(e) || sumC != (Compact{}).EntrySize(e) {
			return nil, fmt.Errorf("entry %q: fields add up to %d and %d bytes, the encodings are %d and %d", e.Name, sumT, sumC, schema.EntrySize(e), Compact{}.EntrySize(e))
		}
		today += sumT
		compact += sumC
	}
	// The compact leaf's tables, and what is left of the header.
	var leaves int
	for i := 0; i < len(entries); i += perLeaf {
		leaf := entries[i:min(i+perLeaf, len(entries))]
		sum := 0
		for j := range leaf {
			sum += Compact{}.EntrySize(&leaf[j])
		}
		rows[len(rows)-1].Compact += float64(len(Compact{}.EncodeLeaf(leaf)) - sum)
		leaves++
	}
	for i := range rows {
		rows[i].Today /= float64(len(entries))
		rows[i].Compact /= float64(len(entries))
	}
	return append(rows, FieldBytes{"total", float64(today) / float64(len(entries)),
		float64(compact)/float64(len(entries)) + rows[len(rows)-1].Compact}), nil
}

func writeFields(w io.Writer, title string, rows []FieldBytes) {
	fmt.Fprintf(w, "\n### %s\n\n| field | today | compact |\n|---|---|---|\n", title)
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %.1f | %.1f |\n", r.Field, r.Today, r.Compact)
	}
}
