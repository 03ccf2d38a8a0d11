package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: Write replaces a file whole, with the permissions asked for
// whatever the umask, and leaves no temporary file behind.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	for _, data := range []string{"first\n", "second, longer\n", ""} {
		if err := Write(path, []byte(data), 0o640); err != nil {
			t.Fatalf("Write(%q): %v", data, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Errorf("after Write(%q) the file holds %q, %v", data, got, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("after Write(%q) the mode is %v, %v; want 0640", data, fi.Mode(), err)
		}
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("the directory holds %v, want the file alone", names)
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Errorf("Write into a missing directory succeeded")
	}
}

// TestWriteTemp: WriteTemp replaces a temporary file a killed writer
// left, even one that cannot be written to.
func TestWriteTemp(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "HEAD.tmp")
	if err := os.WriteFile(tmp, []byte("half a CID"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := WriteTemp(tmp, []byte("whole\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(tmp); err != nil || string(got) != "whole\n" {
		t.Errorf("the temporary file holds %q, %v; want %q", got, err, "whole\n")
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("SyncDir of a missing directory succeeded")
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := Create(p, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(p, []byte("second"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a file = %v, want ErrExist", err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "first" {
		t.Errorf("after a refused Create the file holds %q, %v; want the first", got, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d names, want the file alone (no temporary files)", len(entries))
	}
}
