package cli

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
)

// TestImportBadInput: every kind of bad CAR fails with one line naming
// what failed, exit 1, HEAD's bytes as they were, and the bad block not
// stored.
func TestImportBadInput(t *testing.T) {
	alice := newHome(t)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, bytes.Repeat([]byte("archivecache "), 1000), 0o644)
	ac(t, alice, nil, "ac-add", src, "root/f")
	fileCID := entryCID(t, alice, "root/f")
	good := []byte(ac(t, alice, nil, "ac-export", "root/f"))
	if f := readCAR(t, good); len(f.order) != 1 || f.order[0] != fileCID {
		t.Fatalf("export of a one-block file: %v", f.order)
	}
	section := len(fileCID.Bytes()) + 13000
	hdrLen := len(good) - section - len(binary.AppendUvarint(nil, uint64(section)))
	if hdrLen <= 0 || hdrLen > 100 {
		t.Fatalf("unexpected layout: header of %d bytes", hdrLen)
	}
	tampered := bytes.Clone(good)
	tampered[len(tampered)-100] ^= 1
	huge := append(bytes.Clone(good[:hdrLen]), 0x80, 0x80, 0x80, 0x01) // a section of 2 MiB
	headerOnly := good[:hdrLen]
	emptyHome := newHome(t)

	tests := []struct {
		name  string
		home  string
		stdin []byte
		args  []string
		want  string
	}{
		{"empty input", "", nil, nil, "ac-import: invalid: empty input"},
		{"garbage", "", []byte("hello, this is not a CAR"), nil, "ac-import: invalid: truncated: input ends at offset 24, inside the header at offset 1 (104 bytes claimed)"},
		{"not a map", "", []byte("\x05hello"), nil, "ac-import: invalid: header at offset 1: byte 0: not a map"},
		{"truncated", "", good[:len(good)-1], nil, fmt.Sprintf("truncated: input ends at offset %d, inside the section at offset %d", len(good)-1, hdrLen)},
		{"tampered block", "", tampered, nil, "integrity check failed: block in the section at offset"},
		{"oversized section", "", huge, nil, "claims 2097152 bytes; a block is at most 1048576 bytes"},
		{"over --max-bytes", "", good, []string{"--max-bytes", "1K"}, "input is longer than --max-bytes 1024"},
		{"root not held", emptyHome, headerOnly, nil, "ac-import: " + fileCID.String() + ": does not exist: root is neither in the CAR nor in the store"},
	}
	bob := newHome(t)
	for _, tt := range tests {
		h := bob
		if tt.home != "" {
			h = tt.home
		}
		before := readHead(t, h)
		out, errOut, err := acRun(h, tt.stdin, append([]string{"ac-import"}, tt.args...)...)
		if code := exitCode(err); code != ExitFailure {
			t.Errorf("%s: exit %d, want 1", tt.name, code)
		}
		if out != "" {
			t.Errorf("%s: printed %q", tt.name, out)
		}
		if !strings.HasPrefix(errOut, "ac-import: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: stderr %q, want one line containing %q", tt.name, errOut, tt.want)
		}
		if readHead(t, h) != before {
			t.Errorf("%s: HEAD changed", tt.name)
		}
	}
	withStore(t, bob, func(s ipfsstore.Store) {
		if ok, _ := s.Has(t.Context(), fileCID); ok {
			t.Errorf("a refused block is in the store")
		}
	})

	// Blocks before the first bad section stay in the store, and HEAD
	// stays where it was.
	partial := newHome(t)
	before := readHead(t, partial)
	_, errOut, err := acRun(partial, append(bytes.Clone(good), "junk"...), "ac-import")
	if want := fmt.Sprintf("ac-import: invalid: section at offset %d: CID: version 117, want 0 or 1\n", len(good)); err == nil || errOut != want {
		t.Errorf("trailing garbage: %v, stderr %q, want %q", err, errOut, want)
	}
	if readHead(t, partial) != before {
		t.Errorf("trailing garbage: HEAD changed")
	}
	withStore(t, partial, func(s ipfsstore.Store) {
		if ok, _ := s.Has(t.Context(), fileCID); !ok {
			t.Errorf("the block before the garbage was not stored")
		}
	})

	// Usage: no arguments; --max-bytes a positive size.
	for _, args := range [][]string{{"extra"}, {"--max-bytes", "0"}, {"--max-bytes", "-5"}, {"--max-bytes", "1X"}} {
		_, errOut, err := acRun(bob, good, append([]string{"ac-import"}, args...)...)
		if code := exitCode(err); code != ExitUsage {
			t.Errorf("ac-import %v: exit %d, want 2; stderr %q", args, code, errOut)
		}
	}
	if out := ac(t, bob, good, "ac-import", "--max-bytes", fmt.Sprint(len(good))); out != fileCID.String()+"\n" {
		t.Errorf("ac-import with --max-bytes the exact size printed %q", out)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1K": 1 << 10, "3m": 3 << 20, "64G": 64 << 30, "2T": 2 << 40} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "K", "1.5G", "1KiB", "99999999999T"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, b)
		}
	}
	for n, want := range map[int64]string{64 << 30: "64G", 1536: "1536", 1 << 20: "1M", 7: "7"} {
		if b := byteSize(n); b.String() != want {
			t.Errorf("String(%d) = %q, want %q", n, b.String(), want)
		}
	}
}
