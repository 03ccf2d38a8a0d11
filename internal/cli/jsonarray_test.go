package cli

import (
	"bytes"
	"testing"
)

// TestJSONArrayIsWriteJSON: the streamed array is byte for byte what
// writeJSON writes for the same slice, empty, one and many elements,
// with characters JSON escapes.
func TestJSONArrayIsWriteJSON(t *testing.T) {
	rows := []entryJSON{
		{Name: "a", Kind: "file_v1", VV: map[string]uint64{"r": 1}},
		{Name: "<b & \"c\">\n", Kind: "directory_v2"},
		{Name: "d", Mode: "0644", By: "x"},
	}
	for n := range len(rows) + 1 {
		var want, got bytes.Buffer
		if err := writeJSON(&Env{Stdout: &want}, rows[:n]); err != nil {
			t.Fatal(err)
		}
		a := newJSONArray(&got)
		for _, r := range rows[:n] {
			if err := a.add(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d elements: streamed %q, writeJSON %q", n, got.String(), want.String())
		}
	}
}
