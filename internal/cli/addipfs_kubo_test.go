package cli

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/ipfs/go-cid"
)

// kuboSource writes a tree with what the layouts tell apart: an empty
// file, one-block and many-block files, a file of repeated text (for
// rabin), nested directories, a directory of many entries (sharded with
// --max-directory-links) and a symlink.
func kuboSource(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	rng := rand.New(rand.NewSource(15))
	big := make([]byte, 2<<20+12345)
	rng.Read(big)
	mid := make([]byte, 300<<10+7)
	rng.Read(mid)
	files := map[string][]byte{
		"a.txt":            []byte("hello from kubo\n"),
		"empty":            nil,
		"big.bin":          big,
		"rep.txt":          bytes.Repeat([]byte("the same line, again and again, "), 20000),
		"sub/c.txt":        []byte("in a subdirectory\n"),
		"sub/deeper/d.bin": mid,
	}
	for i := range 40 {
		files[fmt.Sprintf("many/file-%02d.txt", i)] = []byte(strings.Repeat("x", i))
	}
	for name, data := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "sub/c.txt"), 0o600)
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	return src
}

// sameTree fails t unless got holds every regular file and directory of
// want, byte for byte, and nothing else (want's symlinks are skipped).
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	seen := 0
	filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(want, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if _, err := os.Lstat(filepath.Join(got, rel)); err == nil {
				t.Errorf("%s: the symlink was added", rel)
			}
			return nil
		case d.IsDir():
			if fi, err := os.Stat(filepath.Join(got, rel)); err != nil || !fi.IsDir() {
				t.Errorf("%s: not a directory in the copy (%v)", rel, err)
			}
		default:
			seen++
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(filepath.Join(got, rel))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: %d bytes in the copy (%v), want the %d added", rel, len(b), err, len(a))
			}
		}
		return nil
	})
	n := 0
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != seen {
		t.Errorf("the copy holds %d files, want %d", n, seen)
	}
}

// kuboLayouts are the options of `ipfs add` whose DAGs ac-add /ipfs/CID
// must read: every layout, chunker, leaf kind and CID version kubo
// writes, inlined blocks and HAMT-sharded directories.
var kuboLayouts = []struct {
	name string
	opts []string
}{
	{"default-cidv0", nil},
	{"cidv1-raw-leaves", []string{"--cid-version=1"}},
	{"trickle-size-1000-dagpb-leaves", []string{"--cid-version=1", "--trickle", "--chunker=size-1000", "--raw-leaves=false"}},
	{"trickle-cidv0", []string{"--trickle", "--chunker=size-65536"}},
	{"rabin-default", []string{"--chunker=rabin"}},
	{"rabin-small-raw", []string{"--cid-version=1", "--chunker=rabin-512-1024-2048"}},
	{"size-1MiB-raw", []string{"--cid-version=1", "--chunker=size-1048576"}},
	{"inline", []string{"--cid-version=1", "--inline", "--inline-limit=32"}},
	{"inline-dagpb-leaves", []string{"--inline", "--raw-leaves=false", "--chunker=size-16"}},
	{"hamt", []string{"--cid-version=1", "--max-directory-links=4", "--max-hamt-fanout=16"}},
	{"hamt-cidv0-256", []string{"--max-directory-links=8"}},
	{"preserve-mode", []string{"--cid-version=1", "--preserve-mode"}},
	{"preserve-mtime", []string{"--cid-version=1", "--preserve-mtime", "--preserve-mode"}},
}

// What a kubo daemon adds, with each of its layouts, ac-add /ipfs/CID
// takes into the tree, and ac-cat and ac-get give back byte for byte:
// from the daemon itself (--api), and with the embedded store from the
// CAR `ipfs dag export` writes of it.
func TestAddIPFSKuboLayouts(t *testing.T) {
	d := kubotest.StartDaemon(t)
	src := kuboSource(t)
	big, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	viaAPI := filepath.Join(t.TempDir(), "api")
	ac(t, viaAPI, nil, "ac-init", "--api", d.API)
	for _, l := range kuboLayouts {
		t.Run(l.name, func(t *testing.T) {
			args := append([]string{"add", "-r", "-Q"}, l.opts...)
			root := strings.TrimSpace(string(d.Run(t, nil, append(args, src)...)))
			car := d.Run(t, nil, "dag", "export", root)

			embedded := filepath.Join(t.TempDir(), "embedded")
			ac(t, embedded, nil, "ac-init")
			if out := ac(t, embedded, car, "ac-import"); out != root+"\n" {
				t.Fatalf("ac-import printed %q, want %s", out, root)
			}
			for _, h := range []struct{ name, dir, src string }{
				{"api", viaAPI, "/ipfs/" + root},
				{"embedded", embedded, "ipfs://" + root},
			} {
				dest := "root/" + l.name
				out := ac(t, h.dir, nil, "ac-add", h.src, dest)
				if !strings.Contains(out, "(46 files, ") {
					t.Errorf("%s: ac-add printed %q, want 46 files", h.name, out)
				}
				if got := ac(t, h.dir, nil, "ac-cat", dest+"/big.bin"); got != string(big) {
					t.Errorf("%s: ac-cat big.bin gives %d bytes, want %d", h.name, len(got), len(big))
				}
				copyDir := filepath.Join(t.TempDir(), h.name)
				ac(t, h.dir, nil, "ac-get", dest, copyDir)
				sameTree(t, src, copyDir)
				if out := ac(t, h.dir, nil, "ac-verify", dest); !strings.HasPrefix(out, "OK") {
					t.Errorf("%s: ac-verify %s = %q", h.name, dest, out)
				}
				if h.name == "embedded" {
					// What went in goes out again: ac-export writes a
					// file's CIDv0 or inlined blocks as they are.
					again := filepath.Join(t.TempDir(), "again")
					ac(t, again, nil, "ac-init")
					for _, f := range []string{"big.bin", "a.txt"} {
						exported := ac(t, h.dir, nil, "ac-export", dest+"/"+f)
						fileRoot := strings.TrimSpace(ac(t, again, []byte(exported), "ac-import"))
						ac(t, again, nil, "ac-add", "/ipfs/"+fileRoot, "root/"+f)
						want, _ := os.ReadFile(filepath.Join(src, f))
						if got := ac(t, again, nil, "ac-cat", "root/"+f); got != string(want) {
							t.Errorf("%s exported and imported again: %d bytes, want %d", f, len(got), len(want))
						}
					}
				}
				if l.name == "preserve-mtime" {
					for _, f := range []string{"big.bin", "sub/c.txt", "sub"} {
						want, _ := os.Stat(filepath.Join(src, f))
						got, err := os.Stat(filepath.Join(copyDir, f))
						if err != nil || !got.ModTime().Equal(want.ModTime()) {
							t.Errorf("%s: %s: mtime %v, want %v kept (%v)", h.name, f, got.ModTime(), want.ModTime(), err)
						}
					}
				}
				if strings.HasPrefix(l.name, "preserve-") {
					if fi, err := os.Stat(filepath.Join(copyDir, "sub/c.txt")); err != nil || fi.Mode().Perm() != 0o600 {
						t.Errorf("%s: sub/c.txt: mode %v, %v; want 0600 kept", h.name, fi.Mode(), err)
					}
				}
			}
		})
	}
}

// ac-add /ipfs/CID reads directories and the root blocks of files, never
// their contents. With the embedded store, a CAR without the raw blocks
// (every leaf, every one-block file) is enough to add the tree; the
// contents come from a CAR imported later. With a daemon, they come from
// its peers when read: bob's daemon holds none of big.bin's leaves after
// the add, and ac-cat brings them.
func TestAddIPFSFetchesNoContents(t *testing.T) {
	a, b := kubotest.StartPair(t)
	src := kuboSource(t)
	big, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	root := strings.TrimSpace(string(a.Run(t, nil, "add", "-r", "-Q", "--cid-version=1", src)))
	full := a.Run(t, nil, "dag", "export", root)

	// The CAR with no raw blocks.
	r, err := car.NewReader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	var partial bytes.Buffer
	w, err := car.NewWriter(&partial, r.Roots())
	if err != nil {
		t.Fatal(err)
	}
	kept, dropped := 0, 0
	for {
		c, data, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.Type() == cid.Raw {
			dropped++
			continue
		}
		kept++
		w.Put(c, data)
	}
	w.Flush()
	home := newHome(t)
	ac(t, home, partial.Bytes(), "ac-import")
	if out := ac(t, home, nil, "ac-add", "/ipfs/"+root, "root/lazy"); !strings.Contains(out, "(46 files, ") {
		t.Errorf("ac-add from %d blocks (of %d) printed %q", kept, kept+dropped, out)
	}
	if _, errOut, err := acRun(home, nil, "ac-cat", "root/lazy/big.bin"); err == nil || !strings.Contains(errOut, "does not exist") {
		t.Errorf("ac-cat before the contents are imported: %v, %q", err, errOut)
	}
	ac(t, home, full, "ac-import")
	if got := ac(t, home, nil, "ac-cat", "root/lazy/big.bin"); got != string(big) {
		t.Errorf("ac-cat after the import gives %d bytes, want %d", len(got), len(big))
	}
	out := filepath.Join(t.TempDir(), "out")
	ac(t, home, nil, "ac-get", "root/lazy", out)
	sameTree(t, src, out)

	// Through bob's daemon, which fetches from alice's.
	bobHome := filepath.Join(t.TempDir(), "bob")
	ac(t, bobHome, nil, "ac-init", "--api", b.API)
	bigCID := strings.TrimSpace(string(a.Run(t, nil, "add", "-Q", "--only-hash", "--cid-version=1", filepath.Join(src, "big.bin"))))
	leaves := strings.Fields(string(a.Run(t, nil, "refs", bigCID)))
	if len(leaves) < 2 {
		t.Fatalf("big.bin has %d leaves", len(leaves))
	}
	ac(t, bobHome, nil, "ac-add", "ipfs://"+root, "root/remote")
	local := string(b.Run(t, nil, "refs", "local"))
	for _, l := range leaves {
		if strings.Contains(local, l) {
			t.Fatalf("bob's daemon holds leaf %s of big.bin after ac-add", l)
		}
	}
	if got := ac(t, bobHome, nil, "ac-cat", "root/remote/big.bin"); got != string(big) {
		t.Errorf("ac-cat through bob's daemon gives %d bytes, want %d", len(got), len(big))
	}
}

// Leaves over the 1 MiB block limit (kubo's largest chunk wrapped in
// dag-pb) are refused by ac-import at their section, naming the limit;
// through a daemon, which streams a file's bytes, ac-cat and ac-get read
// them.
func TestAddIPFSOversizedLeaves(t *testing.T) {
	d := kubotest.StartDaemon(t)
	big := make([]byte, 1<<20+100)
	rand.New(rand.NewSource(3)).Read(big)
	path := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(path, big, 0o644)
	root := strings.TrimSpace(string(d.Run(t, nil, "add", "-Q", "--cid-version=1", "--raw-leaves=false", "--chunker=size-1048576", path)))
	home := newHome(t)
	_, errOut, err := acRun(home, d.Run(t, nil, "dag", "export", root), "ac-import")
	if err == nil || !strings.Contains(errOut, "too large: section at offset 201 holds a block of 1048590 bytes, limit 1048576") {
		t.Errorf("ac-import of 1 MiB dag-pb leaves: %v, %q", err, errOut)
	}
	viaAPI := filepath.Join(t.TempDir(), "api")
	ac(t, viaAPI, nil, "ac-init", "--api", d.API)
	ac(t, viaAPI, nil, "ac-add", "/ipfs/"+root, "root/big.bin")
	if got := ac(t, viaAPI, nil, "ac-cat", "root/big.bin"); got != string(big) {
		t.Errorf("ac-cat of 1 MiB dag-pb leaves: %d bytes, want %d", len(got), len(big))
	}
	out := filepath.Join(t.TempDir(), "out")
	ac(t, viaAPI, nil, "ac-get", "root/big.bin", out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, big) {
		t.Errorf("ac-get of 1 MiB dag-pb leaves: %d bytes, %v", len(got), err)
	}
}

// TestAddIPFSRemoteTiming times ac-add ipfs://CID of a tree that bob's
// daemon holds nothing of: 400 files of 300 KiB (a dag-pb root each, to
// fetch from alice's daemon) in 20 directories; three trees, the median
// logged. It runs only with AC_BENCH_IPFS=1 (docs/BENCHMARKS.md).
func TestAddIPFSRemoteTiming(t *testing.T) {
	if os.Getenv("AC_BENCH_IPFS") != "1" {
		t.Skip("set AC_BENCH_IPFS=1 to time ac-add of a remote tree")
	}
	a, b := kubotest.StartPair(t)
	bob := filepath.Join(t.TempDir(), "bob")
	ac(t, bob, nil, "ac-init", "--api", b.API)
	var times []time.Duration
	for run := range 3 {
		src := filepath.Join(t.TempDir(), "src")
		rng := rand.New(rand.NewSource(int64(run)))
		for i := range 400 {
			p := filepath.Join(src, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%03d", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			data := make([]byte, 300<<10)
			rng.Read(data)
			os.WriteFile(p, data, 0o644)
		}
		root := strings.TrimSpace(string(a.Run(t, nil, "add", "-r", "-Q", "--cid-version=1", src)))
		start := time.Now()
		out := ac(t, bob, nil, "ac-add", "ipfs://"+root, fmt.Sprintf("root/run%d", run))
		times = append(times, time.Since(start))
		if !strings.Contains(out, "(400 files, ") {
			t.Fatalf("ac-add printed %q", out)
		}
	}
	slices.Sort(times)
	t.Logf("ac-add ipfs:// of 400 remote files: median %v (runs %v)", times[1], times)
}
