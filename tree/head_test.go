package tree_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Environment of a helper process: the test binary re-executed to act as
// a second command working on the same home.
const (
	envHelper = "TREE_TEST_HELPER" // "add N" or "loop"
	envHome   = "TREE_TEST_HOME"
	envPrefix = "TREE_TEST_PREFIX"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envHelper); mode != "" {
		if err := helper(mode, os.Getenv(envHome), os.Getenv(envPrefix)); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper adds entries root/PREFIX-0, root/PREFIX-1, ... to the home, one
// Update each: n of them for "add n", until killed for "loop".
func helper(mode, home, prefix string) error {
	n := -1
	if count, ok := strings.CutPrefix(mode, "add "); ok {
		var err error
		if n, err = strconv.Atoi(count); err != nil {
			return err
		}
	} else if mode != "loop" {
		return fmt.Errorf("unknown mode %q", mode)
	}
	ctx := context.Background()
	st := dirStore{filepath.Join(home, "blocks")}
	h := tree.OpenHead(home, st)
	tr := tree.New(st, tree.Config{Replica: prefix})
	if n > 0 {
		// Start together with the other helpers, and pause between
		// changes as separate commands would, so that they interleave.
		if err := os.WriteFile(filepath.Join(home, "ready-"+prefix), nil, 0o644); err != nil {
			return err
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			if _, err := os.Stat(filepath.Join(home, "go")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("not started")
			}
		}
	}
	for i := 0; i != n; i++ {
		if n > 0 {
			time.Sleep(time.Millisecond)
		}
		name := fmt.Sprintf("root/%s-%d", prefix, i)
		_, err := h.Update(ctx, "add "+name, func(old cid.Cid) (cid.Cid, error) {
			return tr.Put(ctx, old, name, file(name))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func helperCmd(t *testing.T, home, mode, prefix string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envHome+"="+home, envPrefix+"="+prefix)
	cmd.Stderr = &bytes.Buffer{}
	return cmd
}

// waitFor waits until the files exist.
func waitFor(t *testing.T, names ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, name := range names {
		for {
			if _, err := os.Stat(name); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not appear", name)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func newHome(t *testing.T) (string, ipfsstore.Store) {
	t.Helper()
	home := t.TempDir()
	blocks := filepath.Join(home, "blocks")
	if err := os.Mkdir(blocks, 0o755); err != nil {
		t.Fatal(err)
	}
	return home, dirStore{blocks}
}

// TestHeadProcesses runs two processes that each make 50 changes to one
// home at the same time: none may be lost.
func TestHeadProcesses(t *testing.T) {
	home, st := newHome(t)
	const n = 50
	var cmds []*exec.Cmd
	for _, prefix := range []string{"a", "b"} {
		cmd := helperCmd(t, home, fmt.Sprintf("add %d", n), prefix)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	waitFor(t, filepath.Join(home, "ready-a"), filepath.Join(home, "ready-b"))
	if err := os.WriteFile(filepath.Join(home, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v: %s", err, cmd.Stderr)
		}
	}
	h := tree.OpenHead(home, st)
	root, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	tr := tree.New(st, tree.Config{})
	list, err := tr.List(context.Background(), root, "root")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range list {
		have[e.Name] = true
	}
	for _, prefix := range []string{"a", "b"} {
		for i := range n {
			if name := fmt.Sprintf("%s-%d", prefix, i); !have[name] {
				t.Errorf("root/%s is missing: a change was lost", name)
			}
		}
	}
	if len(list) != 2*n {
		t.Errorf("List(root) has %d entries, want %d", len(list), 2*n)
	}
	log, err := h.Log()
	if err != nil || len(log) != 2*n {
		t.Fatalf("Log() = %d entries, %v; want %d", len(log), err, 2*n)
	}
	// The test means something only if the two really overlapped.
	switches := 0
	for i := 1; i < len(log); i++ {
		if log[i].Command[:len("add root/a")] != log[i-1].Command[:len("add root/a")] {
			switches++
		}
	}
	t.Logf("the helpers took turns %d times", switches)
	if switches < 2 {
		t.Errorf("the helpers took turns only %d times: they did not run concurrently", switches)
	}
}

// TestHeadKill kills a process in the middle of its stream of changes,
// several times: what it leaves must load, read fully, and accept the
// next change.
func TestHeadKill(t *testing.T) {
	home, st := newHome(t)
	h := tree.OpenHead(home, st)
	tr := tree.New(st, tree.Config{Replica: "parent"})
	ctx := context.Background()
	for round := range 3 {
		prefix := fmt.Sprintf("k%d", round)
		cmd := helperCmd(t, home, "loop", prefix)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it make some changes, then kill it wherever it is.
		deadline := time.Now().Add(60 * time.Second)
		for {
			log, _ := os.ReadFile(filepath.Join(home, "log"))
			if bytes.Count(log, []byte(prefix+"-")) >= 20 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: helper made too few changes: %s", round, cmd.Stderr)
			}
			time.Sleep(time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		cmd.Wait()

		root, err := h.Get()
		if err != nil {
			t.Fatalf("round %d: Get after kill: %v", round, err)
		}
		// Every block of the tree is there, and the helper's changes form
		// an unbroken run k-0 .. k-(m-1).
		count := 0
		err = tr.Walk(ctx, root, "", func(p string, e schema.Entry) error {
			if strings.HasPrefix(p, "root/"+prefix+"-") {
				count++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: Walk after kill: %v", round, err)
		}
		for i := range count {
			if _, err := tr.Lookup(ctx, root, fmt.Sprintf("root/%s-%d", prefix, i)); err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
		log, err := h.Log()
		if err != nil {
			t.Fatalf("round %d: Log after kill: %v", round, err)
		}
		// The newest line is the helper's last change, or the one before
		// it when the kill fell between the move of HEAD and its log line.
		last := fmt.Sprintf("add root/%s-%d", prefix, count-1)
		before := fmt.Sprintf("add root/%s-%d", prefix, count-2)
		switch {
		case log[0].Command == last && log[0].New.Equals(root):
		case log[0].Command == before && len(log) > 1 && log[0].Old.Equals(log[1].New):
		default:
			t.Errorf("round %d: newest log entry %+v, want %q → HEAD %s, or %q", round, log[0], last, root, before)
		}
		// The lock died with the process: the next change goes through.
		next, err := h.Update(ctx, "after kill", func(old cid.Cid) (cid.Cid, error) {
			return tr.Put(ctx, old, "root/after-"+prefix, file("x"))
		})
		if err != nil {
			t.Fatalf("round %d: Update after kill: %v", round, err)
		}
		if log, err := h.Log(); err != nil || !log[0].New.Equals(next) {
			t.Errorf("round %d: log after the next change = %+v, %v; want it to end at %s", round, log[0], err, next)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(home, "HEAD.tmp*")); len(tmp) > 0 {
		t.Errorf("temporary files left after updates: %q", tmp)
	}
}

func TestHeadUpdate(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	tr, st := newTree(t, tree.Config{})
	h := tree.OpenHead(home, st)

	_, err := h.Get()
	wantKind(t, "Get before init", err, acerr.NotInit)
	if err != nil && !strings.Contains(err.Error(), home) {
		t.Errorf("Get error = %v, want it to name %s", err, home)
	}
	if log, err := h.Log(); err != nil || len(log) != 0 {
		t.Errorf("Log before init = %v, %v; want empty", log, err)
	}

	var seen []cid.Cid // what fn was given
	put := func(path string) func(cid.Cid) (cid.Cid, error) {
		return func(old cid.Cid) (cid.Cid, error) {
			seen = append(seen, old)
			return tr.Put(ctx, old, path, file(path))
		}
	}
	c1, err := h.Update(ctx, "ac-init", put("root/forum/x"))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h.Update(ctx, "ac-add", put("root/y"))
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].Defined() || !seen[1].Equals(c1) {
		t.Errorf("fn was given %v, want [Undef %s]", seen, c1)
	}
	if got, err := h.Get(); err != nil || !got.Equals(c2) {
		t.Errorf("Get() = %s, %v; want %s", got, err, c2)
	}
	if data, _ := os.ReadFile(filepath.Join(home, "HEAD")); string(data) != c2.String()+"\n" {
		t.Errorf("HEAD file = %q, want %q", data, c2.String()+"\n")
	}

	// Changes that change nothing, and failures, leave HEAD and the log alone.
	errFn := errors.New("fn failed")
	nochange := []struct {
		name string
		fn   func(cid.Cid) (cid.Cid, error)
		want error      // returned unchanged
		kind acerr.Kind // or of this kind
	}{
		{"same root", func(old cid.Cid) (cid.Cid, error) { return old, nil }, nil, 0},
		{"fn fails", func(old cid.Cid) (cid.Cid, error) { return tr.Put(ctx, old, "root/z", file("z")) }, nil, 0},
		{"fn error", func(cid.Cid) (cid.Cid, error) { return cid.Undef, errFn }, errFn, 0},
		{"undefined root", func(cid.Cid) (cid.Cid, error) { return cid.Undef, nil }, nil, acerr.Invalid},
		{"root not stored", func(cid.Cid) (cid.Cid, error) { return schema.Sum([]byte("nowhere")), nil }, nil, acerr.NotExist},
	}
	nochange[1].fn = func(old cid.Cid) (cid.Cid, error) { r, _ := tr.Put(ctx, old, "root/z", file("z")); return r, errFn }
	nochange[1].want = errFn
	for _, tt := range nochange {
		got, err := h.Update(ctx, "nothing", tt.fn)
		switch {
		case tt.want != nil && err != tt.want:
			t.Errorf("%s: Update error = %v, want %v unchanged", tt.name, err, tt.want)
		case tt.kind != 0:
			wantKind(t, tt.name+": Update", err, tt.kind)
		case tt.want == nil && (err != nil || !got.Equals(c2)):
			t.Errorf("%s: Update = %s, %v; want %s", tt.name, got, err, c2)
		}
		if now, _ := h.Get(); !now.Equals(c2) {
			t.Errorf("%s: HEAD moved to %s", tt.name, now)
		}
	}

	log, err := h.Log()
	if err != nil {
		t.Fatal(err)
	}
	want := []tree.LogEntry{{Command: "ac-add", Old: c1, New: c2}, {Command: "ac-init", New: c1}}
	if len(log) != len(want) {
		t.Fatalf("Log() has %d entries, want %d: %+v", len(log), len(want), log)
	}
	for i := range want {
		if log[i].Command != want[i].Command || !log[i].Old.Equals(want[i].Old) || !log[i].New.Equals(want[i].New) ||
			time.Since(log[i].Time) > time.Hour {
			t.Errorf("Log()[%d] = %+v, want %+v at about now", i, log[i], want[i])
		}
	}
}

func TestHeadLocked(t *testing.T) {
	home := t.TempDir()
	tr, st := newTree(t, tree.Config{})
	h1 := tree.OpenHead(home, st)
	h2 := tree.OpenHead(home, st) // as another command would
	ctx := context.Background()

	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := h1.Update(ctx, "slow", func(old cid.Cid) (cid.Cid, error) {
			close(inside)
			<-release
			return tr.Put(ctx, old, "root/slow", file("slow"))
		})
		done <- err
	}()
	<-inside
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	called := false
	_, err := h2.Update(short, "impatient", func(cid.Cid) (cid.Cid, error) { called = true; return cid.Undef, nil })
	wantKind(t, "Update while locked", err, acerr.Locked)
	if called {
		t.Errorf("Update called fn without the lock")
	}

	// A patient second Update waits, then sees the first one's change.
	got := make(chan cid.Cid, 1)
	patient := make(chan error)
	go func() {
		_, err := h2.Update(ctx, "patient", func(old cid.Cid) (cid.Cid, error) {
			got <- old
			return tr.Put(ctx, old, "root/patient", file("patient"))
		})
		patient <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-patient; err != nil {
		t.Fatalf("patient Update: %v", err)
	}
	log, _ := h1.Log()
	if old := <-got; len(log) != 2 || log[1].Command != "slow" || !old.Equals(log[1].New) {
		t.Errorf("waiting Update saw %s, want the first Update's result; log %+v", old, log)
	}
}

func TestHeadDamagedFiles(t *testing.T) {
	ctx := context.Background()
	tr, st := newTree(t, tree.Config{})
	good := mustPut(t, tr, cid.Undef, "root/x", file("x"))
	line := func(cmd string, old, new cid.Cid) string {
		o := ""
		if old.Defined() {
			o = old.String()
		}
		return fmt.Sprintf(`{"time":"2026-01-02T03:04:05.000000006Z","command":%q,"old":%q,"new":%q}`+"\n", cmd, o, new)
	}
	tests := []struct {
		name      string
		head, log string
		getErr    acerr.Kind // of Get and Update
		logErr    acerr.Kind
		logLen    int // entries Log returns, before the next Update
	}{
		{"HEAD garbage", "garbage\n", "", acerr.Integrity, 0, 0},
		{"HEAD without newline", good.String(), "", acerr.Integrity, 0, 0},
		{"HEAD empty", "", "", acerr.Integrity, 0, 0},
		{"torn last log line", good.String() + "\n", line("a", cid.Undef, good) + `{"time":"2026`, 0, 0, 1},
		{"torn log, no newline at all", good.String() + "\n", `{"ti`, 0, 0, 0},
		{"damaged log line", good.String() + "\n", "{}\n" + line("a", cid.Undef, good), 0, acerr.Integrity, 0},
		{"log line with unknown field", good.String() + "\n", `{"time":"2026-01-02T03:04:05Z","command":"a","old":"","new":"` + good.String() + `","x":1}` + "\n", 0, acerr.Integrity, 0},
	}
	for _, tt := range tests {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, "HEAD"), []byte(tt.head), 0o644); err != nil {
			t.Fatal(err)
		}
		if tt.log != "" {
			if err := os.WriteFile(filepath.Join(home, "log"), []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		h := tree.OpenHead(home, st)
		_, err := h.Get()
		_, uerr := h.Update(ctx, "next", func(old cid.Cid) (cid.Cid, error) { return tr.Put(ctx, old, "root/y", file("y")) })
		if tt.getErr != 0 {
			wantKind(t, tt.name+": Get", err, tt.getErr)
			wantKind(t, tt.name+": Update", uerr, tt.getErr)
			continue
		}
		if err != nil || uerr != nil {
			t.Errorf("%s: Get error %v, Update error %v", tt.name, err, uerr)
			continue
		}
		log, err := h.Log()
		if tt.logErr != 0 {
			wantKind(t, tt.name+": Log", err, tt.logErr)
			continue
		}
		// The Update cut the torn line off and appended its own.
		if err != nil || len(log) != tt.logLen+1 || log[0].Command != "next" {
			t.Errorf("%s: Log() = %+v, %v; want %d entries, newest \"next\"", tt.name, log, err, tt.logLen+1)
		}
	}

	// A home that does not exist is not initialised.
	h := tree.OpenHead(filepath.Join(t.TempDir(), "missing"), st)
	_, err := h.Update(ctx, "x", func(old cid.Cid) (cid.Cid, error) { return good, nil })
	wantKind(t, "Update in a missing home", err, acerr.NotInit)
}

func TestHeadRemovesStaleTemporaries(t *testing.T) {
	home := t.TempDir()
	tr, st := newTree(t, tree.Config{})
	stale := filepath.Join(home, "HEAD.tmp12345")
	if err := os.WriteFile(stale, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := tree.OpenHead(home, st)
	ctx := context.Background()
	if _, err := h.Update(ctx, "x", func(old cid.Cid) (cid.Cid, error) { return tr.Put(ctx, old, "root/x", file("x")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("Update left %s behind", stale)
	}
}
