package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// These process tests build what a hostile friend could write into a
// tree, entry by entry with the tree API (no command would make it), and
// run the commands on it.

// putEntries stores each of files (path → mode and bytes; an empty
// directory if the bytes are nil) in the home at dir, as entries that
// carry exactly that mode, in one change.
func putEntries(t *testing.T, dir string, files map[string]hostileFile) {
	t.Helper()
	ctx := t.Context()
	h, err := home.Open(ctx, home.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, err = h.Update(ctx, "test", func(old cid.Cid) (cid.Cid, error) {
		head := old
		t := h.Tree(cid.Undef)
		for p, f := range files {
			e := schema.Entry{Kind: schema.KindFile, Mode: f.mode}
			var err error
			if f.data == nil {
				e.Kind = schema.KindDirectory
				e.Target, err = t.MakeDir(ctx, nil)
			} else {
				e.Target, e.Size, err = h.Store.AddFile(ctx, bytes.NewReader(f.data))
			}
			if err != nil {
				return cid.Undef, err
			}
			if head, err = t.Put(ctx, head, p, e); err != nil {
				return cid.Undef, err
			}
		}
		return head, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type hostileFile struct {
	mode uint32
	data []byte
}

// acGetUmask runs ac-get PATH DEST under the umask mask.
func acGetUmask(t *testing.T, dir, mask, path, dest string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `umask "$1" && exec ac-get "$2" "$3"`, "sh", mask, path, dest)
	cmd.Env = append(os.Environ(), "AC_HOME="+dir, "AC_API=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("umask %s; ac-get %s %s: %v\n%s", mask, path, dest, err, out)
	}
}

// TestGetModes exports entries whose modes a friend chose: setuid, setgid
// and sticky bits never reach the disk, and the umask narrows the rest,
// as with cp without -p; a read-only file stays readable, and a
// directory keeps its owner's rwx.
func TestGetModes(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh to set a umask")
	}
	dir := newHome(t)
	putEntries(t, dir, map[string]hostileFile{
		"root/forum/m/suid":   {0o4755, []byte("#!/bin/sh\n")},
		"root/forum/m/all":    {0o6777, []byte("everything\n")},
		"root/forum/m/sticky": {0o1644, []byte("sticky\n")},
		"root/forum/m/plain":  {0o644, []byte("plain\n")},
		"root/forum/m/ro":     {0o444, []byte("read-only\n")},
		"root/forum/m/tmp":    {0o1777, nil},
		"root/forum/m/locked": {0o2000, nil},
	})
	for _, tt := range []struct {
		umask string
		want  map[string]os.FileMode
	}{
		{"022", map[string]os.FileMode{"suid": 0o755, "all": 0o755, "sticky": 0o644, "plain": 0o644, "ro": 0o444,
			"tmp": os.ModeDir | 0o755, "locked": os.ModeDir | 0o700}},
		{"077", map[string]os.FileMode{"suid": 0o700, "all": 0o700, "sticky": 0o600, "plain": 0o600, "ro": 0o400,
			"tmp": os.ModeDir | 0o700, "locked": os.ModeDir | 0o700}},
		{"000", map[string]os.FileMode{"suid": 0o755, "all": 0o777, "sticky": 0o644, "plain": 0o644, "ro": 0o444,
			"tmp": os.ModeDir | 0o777, "locked": os.ModeDir | 0o700}},
	} {
		// The directory, and each entry exported alone.
		out := filepath.Join(t.TempDir(), "out")
		acGetUmask(t, dir, tt.umask, "root/forum/m", out)
		for name, want := range tt.want {
			single := filepath.Join(t.TempDir(), name)
			acGetUmask(t, dir, tt.umask, "root/forum/m/"+name, single)
			for _, p := range []string{filepath.Join(out, name), single} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode(); got != want {
					t.Errorf("umask %s: %s: mode %v, want %v", tt.umask, p, got, want)
				}
			}
		}
	}
}
