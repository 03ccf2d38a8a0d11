package cli

import (
	"bytes"
	"compress/zlib"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore"

	"github.com/archivecache/archivecache/identity"
	"github.com/ipfs/go-cid"
)

// These tests run the commands as separate processes (the test binary,
// copied onto PATH under each command's name by TestMain), because what
// they check only exists between processes: kill -9, lock contention,
// what ends up on disk.

// ac runs a command with AC_HOME=home and returns stdout, failing the test
// if the command fails.
func ac(t *testing.T, home string, stdin []byte, args ...string) string {
	t.Helper()
	out, errOut, err := acRun(home, stdin, args...)
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func acRun(home string, stdin []byte, args ...string) (string, string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=", "AC_PASSPHRASE=")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func newHome(t *testing.T) string {
	t.Helper()
	h := filepath.Join(t.TempDir(), "home")
	ac(t, h, nil, "ac-init")
	return h
}

func readHead(t *testing.T, home string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "HEAD"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// makeTree writes n files of 1..maxSize random bytes in dirs directories.
func makeTree(t *testing.T, root string, dirs, n, maxSize int, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	for i := 0; i < n; i++ {
		d := filepath.Join(root, fmt.Sprintf("d%03d", i%dirs))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1+r.Intn(maxSize))
		r.Read(b)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// corruptPacks flips one bit of the stored copy of payload in the home's
// pack files.
func corruptPacks(t *testing.T, home string, payload []byte) {
	t.Helper()
	packs, _ := filepath.Glob(filepath.Join(home, "blocks", "*", "*.pack"))
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		if i := bytes.Index(b, payload[:64]); i >= 0 {
			b[i+10] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("file bytes not found in any pack of %v", packs)
}

// corruptPacksAndSums does what corruptPacks does, and then gives the
// index record of the changed block the checksum of its new bytes (the
// index layout of ipfsstore/pack.go), as a careful forger would: only a
// check of the hash can tell.
func corruptPacksAndSums(t *testing.T, home string, payload []byte) {
	t.Helper()
	corruptPacks(t, home, payload)
	changed := bytes.Clone(payload)
	changed[10] ^= 1
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	idxs, _ := filepath.Glob(filepath.Join(home, "blocks", "*", "*.idx"))
	for _, p := range idxs {
		b, _ := os.ReadFile(p)
		if string(b[:8]) != "ACIDX003" {
			t.Fatalf("%s: index of another version", p)
		}
		for i := 8; i < len(b); {
			n := 1 + int(b[i]) + 8 + 4 + 4 + 4
			rec := b[i : i+n]
			length := binary.LittleEndian.Uint32(rec[n-12:])
			if int(length) == len(changed) {
				binary.LittleEndian.PutUint32(rec[n-8:], crc32.Checksum(changed, castagnoli))
				binary.LittleEndian.PutUint32(rec[n-4:], crc32.Checksum(rec[:n-4], castagnoli))
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				// The pack's table, derived from its index, still holds
				// the true sum: without it the forged index is read.
				if err := os.Remove(strings.TrimSuffix(p, ".idx") + ".tbl"); err != nil {
					t.Fatal(err)
				}
				return
			}
			i += n
		}
	}
	t.Fatal("no index record of the block")
}

// friendID returns the identity CID of the home's first friend.
func friendID(t *testing.T, home string) string {
	t.Helper()
	friends := ac(t, home, nil, "ac-friend", "list", "--json")
	i := strings.Index(friends, `"identity": "`)
	if i < 0 {
		t.Fatalf("no friend in %s", friends)
	}
	return strings.SplitN(friends[i+len(`"identity": "`):], `"`, 2)[0]
}

// TestKillDuringAdd kills ac-add with SIGKILL at several moments and checks
// that the home still opens, verifies down to every file byte, and takes
// the next ac-add.
func TestKillDuringAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and kills several imports")
	}
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 20, 2000, 16<<10, 1)
	big := make([]byte, 24<<20)
	rand.New(rand.NewSource(2)).Read(big)
	os.WriteFile(filepath.Join(src, "big"), big, 0o644)

	killed := 0
	for i, delay := range []time.Duration{5, 20, 50, 100, 200, 400, 800} {
		cmd := exec.Command("ac-add", src, fmt.Sprintf("root/projects/run%d", i))
		cmd.Env = append(os.Environ(), "AC_HOME="+home)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			killed++
		}
		out := ac(t, home, nil, "ac-verify", "--content", "root")
		if !strings.HasPrefix(out, "OK root") {
			t.Fatalf("after kill %d: ac-verify = %q", i, out)
		}
	}
	if killed == 0 {
		t.Errorf("no import was killed before it finished: the test proved nothing")
	}
	ac(t, home, nil, "ac-add", src, "root/projects/final")
	out := ac(t, home, nil, "ac-verify", "--content", "root/projects/final")
	if !strings.HasPrefix(out, "OK") {
		t.Fatalf("final ac-verify = %q", out)
	}
	exp := filepath.Join(t.TempDir(), "out")
	ac(t, home, nil, "ac-get", "root/projects/final", exp)
	if diff, err := exec.Command("diff", "-r", src, exp).CombinedOutput(); err != nil {
		t.Fatalf("export differs from source: %v\n%s", err, diff)
	}
}

// TestRacingCommands runs imports and identity creation concurrently on
// one home: every change must survive.
func TestRacingCommands(t *testing.T) {
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 2, 20, 1024, 3)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, e, err := acRun(home, nil, "ac-add", src, fmt.Sprintf("root/projects/p%d", i)); err != nil {
				errs <- fmt.Errorf("ac-add %d: %v: %s", i, err, e)
			}
		}()
		go func() {
			defer wg.Done()
			if _, e, err := acRun(home, nil, "ac-identity", "new", fmt.Sprintf("identities/u%d", i)); err != nil {
				errs <- fmt.Errorf("ac-identity %d: %v: %s", i, err, e)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	projects := ac(t, home, nil, "ac-ls", "root/projects")
	ids := ac(t, home, nil, "ac-ls", "identities")
	for i := 0; i < n; i++ {
		if !strings.Contains(projects, fmt.Sprintf("p%d/\n", i)) {
			t.Errorf("root/projects lacks p%d after racing imports:\n%s", i, projects)
		}
		if !strings.Contains(ids, fmt.Sprintf("u%d\n", i)) {
			t.Errorf("identities lacks u%d after racing commands:\n%s", i, ids)
		}
	}
	log := ac(t, home, nil, "ac-log", "--json")
	if got := strings.Count(log, `"command"`); got != 1+2*n {
		t.Errorf("ac-log has %d entries, want %d (init + every command)", got, 1+2*n)
	}
}

// TestPrivateKeysNeverInBlocks scans every file of the block store, and
// every message, for the private key's bytes.
func TestPrivateKeysNeverInBlocks(t *testing.T) {
	home := newHome(t)
	idOut := ac(t, home, nil, "ac-identity", "new", "identities/alice")
	ac(t, home, nil, "ac-node", "new", "node", "identities/alice")
	msgs := ac(t, home, nil, "ac-message", "ref", "node") + ac(t, home, nil, "ac-message", "ref", "identities/alice")
	id, err := cid.Decode(strings.TrimSpace(idOut))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := identity.OpenKeystore(filepath.Join(home, "keys")).Load(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{priv.Seed(), priv[:ed25519.SeedSize+8]}
	scanned := 0
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, filepath.Join(home, "keys")) {
			return err
		}
		b, _ := os.ReadFile(p)
		scanned += len(b)
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains private key bytes", p)
			}
		}
		return nil
	})
	for _, s := range secrets {
		if bytes.Contains([]byte(msgs), s) {
			t.Errorf("a message contains private key bytes")
		}
	}
	if scanned == 0 {
		t.Fatal("scanned no bytes")
	}
}

func zlibBomb(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	zero := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		w.Write(zero)
	}
	w.Close()
	return b.Bytes()
}

// TestBadInputLeavesHead feeds hostile or wrong input to every command
// that changes HEAD: each must fail with one line on stderr, exit 1 or 2,
// and leave HEAD exactly as it was.
func TestBadInputLeavesHead(t *testing.T) {
	alice := newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	aliceID := []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice"))
	aliceRef := []byte(ac(t, alice, nil, "ac-message", "ref", "node"))

	home := newHome(t)
	ac(t, home, nil, "ac-identity", "new", "identities/bob")
	// 32 MiB of zeros: within the 64 KiB a message may take compressed,
	// far past the 1 MiB it may take decompressed.
	bomb := zlibBomb(t, 32<<20)
	if len(bomb) > 64<<10 {
		t.Fatalf("the zlib bomb is %d bytes compressed; it must pass the compressed limit to test the other", len(bomb))
	}
	flipped := bytes.Clone(aliceRef)
	flipped[len(flipped)/2] ^= 0x40
	tests := []struct {
		name  string
		stdin []byte
		args  []string
		want  string // in stderr
	}{
		{"node from a stranger", aliceRef, []string{"ac-node", "add"}, "not a friend"},
		{"truncated message", aliceID[:len(aliceID)/2], []string{"ac-friend", "add"}, "message: "},
		{"flipped bit", flipped, []string{"ac-node", "add"}, "message: "},
		{"garbage", []byte("hello, this is not a message"), []string{"ac-friend", "add"}, "message: "},
		{"empty stdin", nil, []string{"ac-friend", "add"}, "no message"},
		{"zlib bomb", bomb, []string{"ac-friend", "add"}, "decompresses to more than"},
		{"node ref to ac-friend", aliceRef, []string{"ac-friend", "add"}, "not an identity"},
		{"missing path", nil, []string{"ac-delete", "root/nope"}, "does not exist"},
		{"dot-dot path", nil, []string{"ac-delete", "root/../identities"}, "reserved"},
		{"top-level delete", nil, []string{"ac-delete", "root"}, "cannot be deleted"},
		{"missing source", nil, []string{"ac-add", "/nonexistent/src", "root/x"}, "no such file or directory"},
		{"identity outside identities/", nil, []string{"ac-identity", "new", "root/x"}, "identities/NAME"},
		{"node signed by a missing identity", nil, []string{"ac-node", "new", "node", "identities/nobody"}, "does not exist"},
	}
	for _, tt := range tests {
		before := readHead(t, home)
		_, errOut, err := acRun(home, tt.stdin, tt.args...)
		if err == nil {
			t.Errorf("%s: %v succeeded", tt.name, tt.args)
			continue
		}
		if after := readHead(t, home); after != before {
			t.Errorf("%s: HEAD moved from %s to %s", tt.name, before, after)
		}
		line, _, _ := strings.Cut(errOut, "\n")
		if !strings.HasPrefix(line, tt.args[0]+": ") || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: stderr = %q, want a line starting %q containing %q", tt.name, errOut, tt.args[0]+": ", tt.want)
		}
		if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
			t.Errorf("%s: stack trace on stderr: %s", tt.name, errOut)
		}
	}
}

// homeWithFile returns a new home holding one file at root/f, and the
// file's bytes.
func homeWithFile(t *testing.T) (home string, payload []byte) {
	t.Helper()
	home = newHome(t)
	src := filepath.Join(t.TempDir(), "f")
	payload = bytes.Repeat([]byte("archivecache "), 1000)
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ac(t, home, nil, "ac-add", src, "root/f")
	return home, payload
}

// TestCorruptBlockIsReported flips a byte inside the embedded store's
// pack files: ac-verify --content must say FAIL, not OK, and ac-cat must
// refuse to print wrong bytes.
func TestCorruptBlockIsReported(t *testing.T) {
	home, payload := homeWithFile(t)
	corruptPacks(t, home, payload)
	out, _, err := acRun(home, nil, "ac-verify", "--content", "root")
	if err == nil || !strings.HasPrefix(out, "FAIL root") {
		t.Errorf("ac-verify after corruption = %q, %v; want FAIL and exit 1", out, err)
	}
	catOut, errOut, err := acRun(home, nil, "ac-cat", "root/f")
	if err == nil || catOut == string(payload) {
		t.Errorf("ac-cat of a corrupt file succeeded")
	}
	if !strings.Contains(errOut, "integrity") {
		t.Errorf("ac-cat stderr = %q, want an integrity error", errOut)
	}
}

// TestVerifyContentRehashes changes a stored block and the checksum the
// index keeps of it: reads trust that checksum, but ac-verify --content
// hashes every block again and must say FAIL.
func TestVerifyContentRehashes(t *testing.T) {
	home, payload := homeWithFile(t)
	corruptPacksAndSums(t, home, payload)
	if out := ac(t, home, nil, "ac-cat", "root/f"); out == string(payload) {
		t.Fatal("the forgery left the stored bytes as they were")
	}
	out, _, err := acRun(home, nil, "ac-verify", "--content", "root")
	if err == nil || !strings.HasPrefix(out, "FAIL root") || !strings.Contains(out, "does not hash") {
		t.Errorf("ac-verify --content after a forged checksum = %q, %v; want FAIL by hash", out, err)
	}
}

// TestGetStopsAtCorruptBlock corrupts one small file among many: ac-get
// of the directory must fail with an integrity error naming that file,
// and must not leave it behind with wrong bytes, while the files the
// writer finished before it are whole.
func TestGetStopsAtCorruptBlock(t *testing.T) {
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 3, 40, 8<<10, 7)
	// Named to come in the middle of its directory, in walk order.
	bad := filepath.Join(src, "d001", "f00020x")
	payload := bytes.Repeat([]byte("corrupt me "), 500)
	if err := os.WriteFile(bad, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ac(t, home, nil, "ac-add", src, "root/src")
	corruptPacks(t, home, payload)
	out := filepath.Join(t.TempDir(), "out")
	_, errOut, err := acRun(home, nil, "ac-get", "root/src", out)
	if err == nil {
		t.Fatalf("ac-get of a tree with a corrupt block succeeded")
	}
	badOut := filepath.Join(out, "d001", "f00020x")
	if !strings.HasPrefix(errOut, "ac-get: "+badOut+": ") || !strings.Contains(errOut, "integrity") ||
		strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q, want one line naming %s with an integrity error", errOut, badOut)
	}
	if _, err := os.Stat(badOut); err == nil {
		t.Errorf("%s exists after its block failed the check", badOut)
	}
	// Every file that was written is whole, and some were.
	written := 0
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		written++
		rel, _ := filepath.Rel(out, p)
		got, _ := os.ReadFile(p)
		want, _ := os.ReadFile(filepath.Join(src, rel))
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its source after the failed export", rel)
		}
		return nil
	})
	if written == 0 {
		t.Errorf("no file was written before the corrupt one")
	}
}

// TestMergeRacesAdd runs ac-merge of a friend's root and ac-add on one
// home at the same time, several times over: each change survives.
func TestMergeRacesAdd(t *testing.T) {
	alice, bob := newHome(t), newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 2, 10, 512, 5)
	id := ac(t, alice, nil, "ac-message", "ref", "identities/alice")
	ac(t, bob, []byte(id), "ac-friend", "add")
	aliceID := friendID(t, bob)
	n := 4
	if testing.Short() {
		n = 2
	}
	for round := range n {
		ac(t, alice, nil, "ac-add", src, fmt.Sprintf("root/forum/a%d", round))
		ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
		ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "content", "node")), "ac-node", "add")
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, e, err := acRun(bob, nil, "ac-merge", "root", "nodes/"+aliceID+"/root"); err != nil {
				errs <- fmt.Errorf("ac-merge: %v: %s", err, e)
			}
		}()
		go func() {
			defer wg.Done()
			if _, e, err := acRun(bob, nil, "ac-add", src, fmt.Sprintf("root/projects/b%d", round)); err != nil {
				errs <- fmt.Errorf("ac-add: %v: %s", err, e)
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	forum := ac(t, bob, nil, "ac-ls", "root/forum")
	projects := ac(t, bob, nil, "ac-ls", "root/projects")
	for round := range n {
		if !strings.Contains(forum, fmt.Sprintf("a%d/\n", round)) {
			t.Errorf("the merge of round %d is lost: root/forum =\n%s", round, forum)
		}
		if !strings.Contains(projects, fmt.Sprintf("b%d/\n", round)) {
			t.Errorf("the import of round %d is lost: root/projects =\n%s", round, projects)
		}
	}
}

// TestBadMergeLeavesHead runs merges that must fail: the friend's blocks
// were never imported, the source is not a directory, the source does
// not exist. Each fails with one line naming what failed, exit 1, and
// HEAD exactly as it was.
func TestBadMergeLeavesHead(t *testing.T) {
	alice, bob := newHome(t), newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	src := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(src, []byte("alice's\n"), 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/f.txt")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	node := "nodes/" + friendID(t, bob)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"blocks never imported", []string{"ac-merge", "root", node + "/root"}, "does not exist"},
		{"all friends, blocks never imported", []string{"ac-merge-all"}, "does not exist"},
		{"source not a directory", []string{"ac-merge", "root", node}, "not a directory"},
		{"missing source", []string{"ac-merge", "root", "root/nope"}, "does not exist"},
	} {
		before := readHead(t, bob)
		_, errOut, err := acRun(bob, nil, tt.args...)
		if err == nil {
			t.Errorf("%s: %v succeeded", tt.name, tt.args)
			continue
		}
		if after := readHead(t, bob); after != before {
			t.Errorf("%s: HEAD moved from %s to %s", tt.name, before, after)
		}
		if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, tt.args[0]+": ") || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: stderr = %q, want one line from %s containing %q", tt.name, errOut, tt.args[0], tt.want)
		}
	}
	// With her blocks imported the same merge succeeds.
	car := []byte(ac(t, alice, nil, "ac-export", "node"))
	ac(t, bob, car, "ac-import")
	if out := ac(t, bob, nil, "ac-merge", "root", node+"/root"); out != "A root/forum/f.txt\n" {
		t.Errorf("after ac-import, ac-merge printed %q", out)
	}
}

// TestGetKeepsModesAndTimes exports files of several modes and sizes (a
// read-only one, an empty one, one of several chunks) and checks that each
// comes back with its bytes, its mode (less the umask's bits, which the
// commands inherit from the test) and its modification time to the
// nanosecond, as do the directories.
func TestGetKeepsModesAndTimes(t *testing.T) {
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o750)
	files := map[string]os.FileMode{"a.txt": 0o644, "run.sh": 0o755, "secret": 0o600, "sub/ro.txt": 0o444, "empty": 0o640, "sub/chunks.bin": 0o644}
	content := func(name string) []byte {
		switch name {
		case "empty":
			return []byte{}
		case "sub/chunks.bin":
			return bytes.Repeat([]byte(name), 700<<10/len(name)) // three chunks
		}
		return []byte(name)
	}
	base := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	i := 0
	for name, mode := range files {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, content(name), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		mt := base.Add(time.Duration(i) * time.Hour)
		os.Chtimes(p, mt, mt)
		i++
	}
	dirTime := base.Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "sub"), dirTime, dirTime)
	ac(t, home, nil, "ac-add", src, "root/src")
	out := filepath.Join(t.TempDir(), "out")
	ac(t, home, nil, "ac-get", "root/src", out)
	umask := os.FileMode(syscall.Umask(0))
	syscall.Umask(int(umask))
	check := func(name string) {
		want, _ := os.Stat(filepath.Join(src, name))
		got, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got.Mode() != want.Mode()&^umask {
			t.Errorf("%s: mode %v, want %v", name, got.Mode(), want.Mode()&^umask)
		}
		if !got.ModTime().Equal(want.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", name, got.ModTime(), want.ModTime())
		}
	}
	for name := range files {
		check(name)
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Equal(b, content(name)) {
			t.Errorf("%s: exported %d bytes (%v), want %d", name, len(b), err, len(content(name)))
		}
	}
	check("sub")
}

// TestGetWritersShareNoFile exports, with several writers, a tree whose
// directories hold files on both sides of a subdirectory (so one
// directory's files come to the exporter in two runs) and more files than
// a batch; every file must come back whole, and nothing else.
func TestGetWritersShareNoFile(t *testing.T) {
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 5, 400, 3000, 11)
	makeTree(t, filepath.Join(src, "d002", "m-sub"), 3, 70, 2000, 12)
	for _, name := range []string{"a-first", "z-last"} {
		if err := os.WriteFile(filepath.Join(src, "d002", name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ac(t, home, nil, "ac-add", src, "root/src")
	for _, j := range []string{"1", "3", "8"} {
		out := filepath.Join(t.TempDir(), "out")
		ac(t, home, nil, "ac-get", "-j", j, "root/src", out)
		n := 0
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			want, _ := os.ReadFile(p)
			got, err := os.ReadFile(filepath.Join(out, rel))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("-j %s: %s: %d bytes (%v), want %d", j, rel, len(got), err, len(want))
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m := 0
		filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				m++
			}
			return err
		})
		if m != n || n != 400+70+2 {
			t.Errorf("-j %s: exported %d files of %d (want %d)", j, m, n, 472)
		}
	}
}

// TestGetRemovesFileCutShort corrupts the second chunk of a file of three:
// ac-get has begun writing the file when it meets the bad block, and must
// fail with an integrity error and remove what it wrote, whether the file
// is exported alone or inside its directory.
func TestGetRemovesFileCutShort(t *testing.T) {
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	payload := make([]byte, 3*ipfsstore.ChunkSize-100)
	rand.New(rand.NewSource(5)).Read(payload)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ac(t, home, nil, "ac-add", src, "root/src")
	corruptPacks(t, home, payload[ipfsstore.ChunkSize:])
	out := t.TempDir()
	for _, c := range []struct{ path, dest, file string }{
		{"root/src/big.bin", filepath.Join(out, "alone.bin"), filepath.Join(out, "alone.bin")},
		{"root/src", filepath.Join(out, "dir"), filepath.Join(out, "dir", "big.bin")},
	} {
		_, errOut, err := acRun(home, nil, "ac-get", c.path, c.dest)
		if err == nil || !strings.Contains(errOut, "integrity") {
			t.Errorf("ac-get %s = %v, stderr %q; want an integrity error", c.path, err, errOut)
		}
		if _, err := os.Lstat(c.file); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ac-get %s left %s behind (%v)", c.path, c.file, err)
		}
	}
}
