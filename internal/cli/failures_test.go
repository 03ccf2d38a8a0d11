package cli

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
)

// What failed and killed commands leave behind in the embedded store,
// and how damage is repaired.

// mountTmpfs mounts a tmpfs of the given size (as mount -o size= takes
// it) on a new directory, unmounted when the test ends. It needs root; it
// skips otherwise, or fails with AC_TEST_DISALLOW_SKIP=1.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		kubotest.Skip(t, "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		kubotest.Skip(t, "cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes is the space left on the file system holding path.
func freeBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// TestAddFullDiskGivesBack adds a 60 MB file to a home on a 40 MB tmpfs:
// ac-add fails with one line saying the disk is full, gives back all the
// space it took, and a 6-byte ac-add on the same disk succeeds.
func TestAddFullDiskGivesBack(t *testing.T) {
	mnt := mountTmpfs(t, "40m")
	home := filepath.Join(mnt, "home")
	ac(t, home, nil, "ac-init")
	src := t.TempDir()
	big := make([]byte, 60<<20)
	rand.New(rand.NewSource(1)).Read(big)
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "small"), []byte("small\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	head := readHead(t, home)
	free := freeBytes(t, mnt)

	out, errOut, err := acRun(home, nil, "ac-add", filepath.Join(src, "big"), "root/big")
	if want := `\Aac-add: [^\n]*: no space left on device\n\z`; exitCode(err) != 1 || out != "" || !regexp.MustCompile(want).MatchString(errOut) {
		t.Fatalf("ac-add of 60 MB on a 40 MB disk: exit %d, stdout %q, stderr %q; want exit 1 and stderr matching %s", exitCode(err), out, errOut, want)
	}
	// The slack allows for the file system's own bookkeeping; what the
	// command wrote would be tens of megabytes.
	const slack = 64 << 10
	if after := freeBytes(t, mnt); after < free-slack {
		t.Fatalf("free space %d bytes before the failed ac-add, %d after: %d bytes not given back", free, after, free-after)
	}
	if got := readHead(t, home); got != head {
		t.Fatalf("HEAD moved from %q to %q", head, got)
	}
	ac(t, home, nil, "ac-add", filepath.Join(src, "small"), "root/small")
	if got := ac(t, home, nil, "ac-cat", "root/small"); got != "small\n" {
		t.Fatalf("ac-cat root/small = %q", got)
	}
	if out := ac(t, home, nil, "ac-verify", "--content", "root"); out != "OK root\n" {
		t.Fatalf("ac-verify --content root = %q", out)
	}
}

// TestKilledImportsDoNotGrowStore kills ac-import with SIGKILL at random
// points of a CAR ten times, then imports it whole: the store grows by at
// most twice the CAR, where each killed import used to leave behind
// everything it had written.
func TestKilledImportsDoNotGrowStore(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a 24 MB CAR eleven times")
	}
	alice := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 4, 40, 64<<10, 11)
	big := make([]byte, 22<<20)
	rand.New(rand.NewSource(12)).Read(big)
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	ac(t, alice, nil, "ac-add", src, "root/src")
	carData := []byte(ac(t, alice, nil, "ac-export", "root/src"))

	bob := newHome(t)
	blocks := filepath.Join(bob, "blocks")
	base := dirSize(t, blocks)
	r := rand.New(rand.NewSource(13))
	for i := range 10 {
		cmd := exec.Command("ac-import")
		cmd.Env = append(os.Environ(), "AC_HOME="+bob)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Feed a random part of the CAR, and kill the import once its
		// pack holds most of it (the rest waits in its buffers).
		k := len(carData)/10 + r.Intn(len(carData)*8/10)
		if _, err := stdin.Write(carData[:k]); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); dirSize(t, blocks)-base < int64(k)-8<<20 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		grown := dirSize(t, blocks) - base
		if err := cmd.Process.Kill(); err != nil { // SIGKILL, on the child we started
			t.Fatal(err)
		}
		var ee *exec.ExitError
		if err := cmd.Wait(); !errors.As(err, &ee) || ee.Exited() {
			t.Fatalf("import %d ended with %v before it was killed", i, err)
		}
		stdin.Close()
		t.Logf("import %d killed after %d of %d bytes; the store had grown by %d bytes", i, k, len(carData), grown)
	}
	roots := ac(t, bob, carData, "ac-import")
	grown := dirSize(t, blocks) - base
	t.Logf("after ten killed imports and a whole one: the store grew by %d bytes, for a %d-byte CAR", grown, len(carData))
	if limit := 2 * int64(len(carData)); grown > limit {
		t.Fatalf("the store grew by %d bytes, more than %d, twice the CAR", grown, limit)
	}
	if again := ac(t, bob, carData, "ac-import"); again != roots || dirSize(t, blocks)-base != grown {
		t.Fatalf("importing the CAR again printed %q (want %q) and grew the store to %d bytes (from %d)", again, roots, dirSize(t, blocks)-base, grown)
	}
}

// TestImportAndAddRepairDamagedBlocks damages a stored chunk of a file:
// ac-cat refuses it, and then either ac-add of the original file or
// ac-import of a CAR holding the good copy repairs the store, so that
// ac-cat prints the file's bytes straight after.
func TestImportAndAddRepairDamagedBlocks(t *testing.T) {
	payload := make([]byte, 3<<20/2) // six chunks
	rand.New(rand.NewSource(14)).Read(payload)
	for _, how := range []string{"add", "import"} {
		t.Run(how, func(t *testing.T) {
			home := newHome(t)
			src := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(src, payload, 0o644); err != nil {
				t.Fatal(err)
			}
			ac(t, home, nil, "ac-add", src, "root/f")
			carData := []byte(ac(t, home, nil, "ac-export", "root/f"))
			corruptPacks(t, home, payload)
			if out, errOut, err := acRun(home, nil, "ac-cat", "root/f"); err == nil || !bytes.Contains([]byte(errOut), []byte("integrity")) {
				t.Fatalf("ac-cat of a damaged file: %d bytes, stderr %q, %v; want an integrity error", len(out), errOut, err)
			}
			switch how {
			case "add":
				ac(t, home, nil, "ac-add", src, "root/f")
			case "import":
				ac(t, home, carData, "ac-import")
			}
			if got := ac(t, home, nil, "ac-cat", "root/f"); got != string(payload) {
				t.Fatalf("ac-cat after ac-%s of the good copy: %d bytes, not the file's %d", how, len(got), len(payload))
			}
			if out := ac(t, home, nil, "ac-verify", "--content", "root"); out != "OK root\n" {
				t.Fatalf("ac-verify --content root = %q", out)
			}
		})
	}
}

// TestVerifyRepairFromCAR damages a file's block, then repairs it with
// ac-verify --repair from a CAR exported before: the block is read again
// from the CAR, ac-verify says which and OK, and the file reads right. A
// CAR that lacks the block leaves the FAIL, saying it was not repaired; a
// source that is neither a file nor an address is bad usage.
func TestVerifyRepairFromCAR(t *testing.T) {
	home, payload := homeWithFile(t)
	good := filepath.Join(t.TempDir(), "good.car")
	if err := os.WriteFile(good, []byte(ac(t, home, nil, "ac-export", "root")), 0o644); err != nil {
		t.Fatal(err)
	}
	other, _ := homeWithFile(t)
	ac(t, other, nil, "ac-delete", "root/f")
	lacking := filepath.Join(t.TempDir(), "lacking.car")
	if err := os.WriteFile(lacking, []byte(ac(t, other, nil, "ac-export", "identities")), 0o644); err != nil {
		t.Fatal(err)
	}
	corruptPacks(t, home, payload)

	out, _, err := acRun(home, nil, "ac-verify", "--content", "--repair", lacking, "root")
	if err == nil || !strings.HasPrefix(out, "FAIL root: ") || !strings.Contains(out, "not repaired") || strings.Count(out, "\n") != 1 {
		t.Errorf("ac-verify --repair from a CAR without the block = %q, %v; want one FAIL line saying it was not repaired", out, err)
	}
	out, _, err = acRun(home, nil, "ac-verify", "--content", "--repair", good, "root")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "repaired bafk") || lines[1] != "OK root" {
		t.Errorf("ac-verify --repair = %q, %v; want a repaired line and OK", out, err)
	}
	if got := ac(t, home, nil, "ac-cat", "root/f"); got != string(payload) {
		t.Errorf("after the repair ac-cat gives %d bytes, not the file", len(got))
	}
	if out := ac(t, home, nil, "ac-verify", "--content", "root"); out != "OK root\n" {
		t.Errorf("after the repair ac-verify --content = %q", out)
	}
	_, errOut, err := acRun(home, nil, "ac-verify", "--repair", "no-such.car", "root")
	if exitCode(err) != 2 || !strings.Contains(errOut, "not a CAR file, nor a kubo RPC address") {
		t.Errorf("ac-verify --repair no-such.car: exit %d, %q; want bad usage", exitCode(err), errOut)
	}
}
