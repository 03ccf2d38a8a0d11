//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/progress"
	"golang.org/x/sys/unix"
)

// bigTree writes a directory of three small files and one of 24 MiB,
// and returns its path and its size in bytes.
func bigTree(t *testing.T) (string, int64) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	var size int64
	for i := range 3 {
		b := []byte(fmt.Sprintf("small %d\n", i))
		os.WriteFile(filepath.Join(src, fmt.Sprintf("s%d.txt", i)), b, 0o644)
		size += int64(len(b))
	}
	big := make([]byte, 24<<20)
	rand.New(rand.NewSource(3)).Read(big)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return src, size + int64(len(big))
}

// onTerminal runs a command with stderr on a pseudo-terminal and
// returns its stdout and what the terminal showed.
func onTerminal(t *testing.T, home string, args ...string) (stdout, shown string) {
	t.Helper()
	master, tty := openPty(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=", "AC_PASSPHRASE=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	read := make(chan string)
	fd := int(master.Fd()) // blocking reads, not the poller's
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fd, buf)
			if n <= 0 || err != nil { // EIO: no one holds the terminal
				break
			}
			b = append(b, buf[:n]...)
		}
		read <- string(b)
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	tty.Close()
	if err != nil {
		t.Fatalf("%v on a terminal: %v", args, err)
	}
	return out.String(), <-read
}

// TestProgressOnATerminal: with stderr on a terminal, ac-add, ac-get,
// ac-export and ac-verify --content draw one line, redrawn in place, that ends with the files and bytes
// done of the totals, the percentage and the time left; stdout holds the
// result alone.
func TestProgressOnATerminal(t *testing.T) {
	home := newHome(t)
	src, size := bigTree(t)
	last := regexp.MustCompile(`\r(ac-[a-z]+): 4/4 files, 25M/25M, [0-9.]+[KMG]?/s, 100%, 0:00 left\x1b\[K\r?\n\z`)
	out, shown := onTerminal(t, home, "ac-add", src, "root/projects/src")
	if m := last.FindStringSubmatch(shown); m == nil || m[1] != "ac-add" {
		t.Errorf("ac-add's terminal showed %q, want it to end with the whole count", shown)
	}
	if want := fmt.Sprintf(" root/projects/src (4 files, %d bytes)\n1 added, 0 modified, 0 deleted\n", size); !strings.HasSuffix(out, want) || strings.Contains(out, "\r") {
		t.Errorf("ac-add's stdout = %q, want the result ending %q", out, want)
	}
	dest := filepath.Join(t.TempDir(), "out")
	out, shown = onTerminal(t, home, "ac-get", "root/projects/src", dest)
	if m := last.FindStringSubmatch(shown); m == nil || m[1] != "ac-get" {
		t.Errorf("ac-get's terminal showed %q, want it to end with the whole count", shown)
	}
	if out != "4 added, 0 modified, 0 deleted\n" {
		t.Errorf("ac-get's stdout = %q", out)
	}
	for _, args := range [][]string{{"ac-export", "root/projects/src"}, {"ac-verify", "--content", "root/projects/src"}} {
		// ac-export says what it wrote below the line.
		whole := regexp.MustCompile(`\r` + args[0] + `: 4/4 files, 25M/25M, [0-9.]+[KMG]?/s, 100%, 0:00 left\x1b\[K\r?\n`)
		if _, shown := onTerminal(t, home, args...); !whole.MatchString(shown) {
			t.Errorf("%v: the terminal showed %q, want it to end with the whole count", args, shown)
		}
	}
	// Not a terminal, no --json: nothing on stderr.
	if _, errOut, err := acRun(home, nil, "ac-get", "root/projects/src", dest); err != nil || errOut != "" {
		t.Errorf("ac-get again, stderr not a terminal: %v, stderr %q", err, errOut)
	}
}

// TestProgressJSON: --json makes the progress a stream of JSON lines on
// stderr, restic's status lines then one summary, while stdout keeps the
// result; the totals are the tree's, and the last status says all done.
func TestProgressJSON(t *testing.T) {
	home := newHome(t)
	src, size := bigTree(t)
	for _, c := range []struct {
		args []string
		out  string // how stdout ends
	}{
		{[]string{"ac-add", "--json", src, "root/projects/src"}, "1 added, 0 modified, 0 deleted\n"},
		{[]string{"ac-get", "--json", "root/projects/src", filepath.Join(t.TempDir(), "out")}, "4 added, 0 modified, 0 deleted\n"},
		// The CAR's bytes are more than the content's: the progress
		// counts the content, of the totals of the tree.
		{[]string{"ac-export", "--json", "root/projects/src"}, ""},
		{[]string{"ac-verify", "--json", "--content", "root/projects/src"}, "OK root/projects/src\n"},
	} {
		args := c.args
		stdout, stderr, err := acRun(home, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v, stderr %q", args, err, stderr)
		}
		if !strings.HasSuffix(stdout, c.out) || args[0] == "ac-export" && len(stdout) <= int(size) {
			t.Errorf("%v: stdout %.200q", args, stdout)
		}
		var lines []map[string]any
		sc := bufio.NewScanner(strings.NewReader(stderr))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%v: stderr line %q is not JSON: %v", args, sc.Text(), err)
			}
			lines = append(lines, m)
		}
		if len(lines) < 2 {
			t.Fatalf("%v: stderr %q, want status lines and a summary", args, stderr)
		}
		status, summary := lines[len(lines)-2], lines[len(lines)-1]
		wantStatus := map[string]any{"message_type": "status", "percent_done": 1.0, "total_files": 4.0, "files_done": 4.0,
			"total_bytes": float64(size), "bytes_done": float64(size), "seconds_remaining": 0.0}
		for k, v := range wantStatus {
			if status[k] != v {
				t.Errorf("%v: the last status line has %s = %v, want %v (%v)", args, k, status[k], v, status)
			}
		}
		if summary["message_type"] != "summary" || summary["command"] != args[0] || summary["files_done"] != 4.0 || summary["bytes_done"] != float64(size) {
			t.Errorf("%v: the summary line is %v", args, summary)
		}
	}
	// A failure ends the stream with the error object, and no summary.
	_, stderr, err := acRun(home, nil, "ac-get", "--json", "root/projects/nope", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.HasSuffix(stderr, `"kind":"not_exist","error":"root/projects/nope: does not exist","exit":1}`+"\n") || strings.Contains(stderr, "summary") {
		t.Errorf("ac-get --json of nothing: %v, stderr %q", err, stderr)
	}
}

// TestDryRunKeepsNothing: ac-add --dry-run of a new tree and of a
// changed one lists what would change and counts it, and stores no
// block, moves no HEAD and writes no log line; ac-get --dry-run lists the
// files it would write and writes none.
func TestDryRunKeepsNothing(t *testing.T) {
	home := newHome(t)
	src, _ := bigTree(t)
	blocks, head, log := dirSize(t, filepath.Join(home, "blocks")), readHead(t, home), len(readLog(t, home))
	unchanged := func(what string) {
		t.Helper()
		if b := dirSize(t, filepath.Join(home, "blocks")); b != blocks {
			t.Errorf("%s: the store grew from %d to %d bytes", what, blocks, b)
		}
		if readHead(t, home) != head || len(readLog(t, home)) != log {
			t.Errorf("%s: HEAD or the log moved", what)
		}
	}
	if out := ac(t, home, nil, "ac-add", "--dry-run", src, "root/projects/src"); out != "A root/projects/src/\n1 added, 0 modified, 0 deleted\n" {
		t.Errorf("ac-add --dry-run of a new tree = %q", out)
	}
	unchanged("ac-add --dry-run of a new tree")
	ac(t, home, nil, "ac-add", src, "root/projects/src")
	blocks, head, log = dirSize(t, filepath.Join(home, "blocks")), readHead(t, home), len(readLog(t, home))
	os.WriteFile(filepath.Join(src, "s0.txt"), []byte("changed\n"), 0o644)
	os.Remove(filepath.Join(src, "s1.txt"))
	os.WriteFile(filepath.Join(src, "new.txt"), []byte("new\n"), 0o644)
	want := "A root/projects/src/new.txt\nM root/projects/src/s0.txt\nD root/projects/src/s1.txt\n1 added, 1 modified, 1 deleted\n"
	if out := ac(t, home, nil, "ac-add", "--dry-run", src, "root/projects/src"); out != want {
		t.Errorf("ac-add --dry-run of a changed tree = %q, want %q", out, want)
	}
	unchanged("ac-add --dry-run of a changed tree")
	// The real add says the same, with -v, after its result.
	if out := ac(t, home, nil, "ac-add", "-v", src, "root/projects/src"); !strings.HasSuffix(out, ")\n"+want) {
		t.Errorf("ac-add -v = %q, want it to end with %q", out, want)
	}
	dest := filepath.Join(t.TempDir(), "out")
	os.MkdirAll(dest, 0o755)
	os.WriteFile(filepath.Join(dest, "s2.txt"), []byte("small 2\n"), 0o644) // the same bytes: kept
	want = fmt.Sprintf("A %s\nA %s\nA %s\n3 added, 0 modified, 0 deleted, 1 unchanged\n",
		filepath.Join(dest, "big.bin"), filepath.Join(dest, "new.txt"), filepath.Join(dest, "s0.txt"))
	// DEST holds only a name of the directory, as an export cut short
	// would, but not its mode or time: the export would go inside it.
	os.Chmod(dest, 0o700)
	if out := ac(t, home, nil, "ac-get", "--dry-run", "root/projects/src", dest); out != want {
		t.Errorf("ac-get --dry-run = %q, want %q", out, want)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 1 {
		t.Errorf("ac-get --dry-run wrote %d entries", len(entries)-1)
	}
}

// TestMeterEstimate: the fraction done is of the bytes (of the files
// where there are none), and the time left follows the rate so far;
// neither is known before the totals are.
func TestMeterEstimate(t *testing.T) {
	for _, c := range []struct {
		s         progress.Snapshot
		done      float64
		left      time.Duration
		known     bool
		displayed string
	}{
		{progress.Snapshot{Files: 1, Bytes: 10, TotalFiles: 4, TotalBytes: 40}, 0, 0, false, "1 files, 10"},
		{progress.Snapshot{Files: 1, Bytes: 10, TotalFiles: 4, TotalBytes: 40, Final: true}, 0.25, 30 * time.Second, true, "1/4 files, 10/40"},
		{progress.Snapshot{Files: 3, TotalFiles: 4, Final: true}, 0.75, 10 * time.Second / 3, true, "3/4 files, 0/0"},
		{progress.Snapshot{Final: true}, 1, 0, true, "0/0"},
		{progress.Snapshot{Bytes: 2048}, 0, 0, false, "2.0K"},
	} {
		done, left, known := estimate(c.s, 10*time.Second)
		if done != c.done || left != c.left || known != c.known {
			t.Errorf("estimate(%+v, 10s) = %v, %v, %v; want %v, %v, %v", c.s, done, left, known, c.done, c.left, c.known)
		}
		if got := meterCounts(c.s, "files"); got != c.displayed {
			t.Errorf("meterCounts(%+v) = %q, want %q", c.s, got, c.displayed)
		}
	}
	if got := clock(3723 * time.Second); got != "1:02:03" {
		t.Errorf("clock(3723s) = %q", got)
	}
}
