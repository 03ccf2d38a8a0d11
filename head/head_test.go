package head_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/head"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Environment of a helper process: the test binary re-executed to act as
// a second command working on the same home.
const (
	envHelper = "HEAD_TEST_HELPER" // "add N" or "loop"
	envHome   = "HEAD_TEST_HOME"
	envPrefix = "HEAD_TEST_PREFIX"
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
// Update each: n of them for "add n", until killed for "loop". For
// "crash n" it makes one change and exits at the n-th file operation of
// it, as a process killed there would: without another system call.
func helper(mode, home, prefix string) error {
	ctx := context.Background()
	st := dirStore{filepath.Join(home, "blocks")}
	h := head.Open(home, st, head.Config{})
	tr := tree.New(st, tree.Config{Replica: prefix})
	if at, ok := strings.CutPrefix(mode, "crash "); ok {
		n, err := strconv.Atoi(at)
		if err != nil {
			return err
		}
		ops := 0
		head.SetFault(h, func(string) error {
			if ops++; ops == n {
				os.Exit(3)
			}
			return nil
		})
		_, err = h.Update(ctx, "crash", func(old cid.Cid) (cid.Cid, error) { return tr.Put(ctx, old, "root/crash", file("crash")) })
		return err
	}
	n := -1
	if count, ok := strings.CutPrefix(mode, "add "); ok {
		var err error
		if n, err = strconv.Atoi(count); err != nil {
			return err
		}
	} else if mode != "loop" {
		return fmt.Errorf("unknown mode %q", mode)
	}
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
	h := head.Open(home, st, head.Config{})
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
	h := head.Open(home, st, head.Config{})
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
		// The newest line is the helper's last change, wherever the kill
		// fell: a line whose rename never happened is not shown.
		last := fmt.Sprintf("add root/%s-%d", prefix, count-1)
		if log[0].Command != last || !log[0].New.Equals(root) {
			t.Errorf("round %d: newest log entry %+v, want %q → HEAD %s", round, log[0], last, root)
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
	h := head.Open(home, st, head.Config{})

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
	want := []head.LogEntry{{Command: "ac-add", Old: c1, New: c2}, {Command: "ac-init", New: c1}}
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

// holdLock starts a change of root/slow in home that stops while it holds
// the lock, inside its commit, until release is called; done gets its
// result.
func holdLock(t *testing.T, home string, st ipfsstore.Store, tr *tree.Tree) (release func(), done <-chan error) {
	t.Helper()
	h := head.Open(home, st, head.Config{})
	inside, free := make(chan struct{}), make(chan struct{})
	head.SetFault(h, func(op string) error {
		if op == "write log" {
			close(inside)
			<-free
		}
		return nil
	})
	result := make(chan error, 1)
	go func() {
		_, err := h.Update(context.Background(), "ac-slow root/slow", put(tr, "root/slow"))
		result <- err
	}()
	<-inside
	return func() { close(free) }, result
}

// TestHeadLocked: while one change holds the lock, another computes
// (the lock is only for the swap), then waits for the lock; an impatient
// one gives up with acerr.Locked and changes nothing, a patient one
// finds HEAD moved, computes again from the first one's result and
// goes through.
func TestHeadLocked(t *testing.T) {
	home := t.TempDir()
	tr, st := newTree(t, tree.Config{})
	ctx := context.Background()
	c0, err := head.Open(home, st, head.Config{}).Update(ctx, "init", put(tr, "root/init"))
	if err != nil {
		t.Fatal(err)
	}
	release, done := holdLock(t, home, st, tr)
	h2 := head.Open(home, st, head.Config{}) // as another command would

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	var impatient []cid.Cid
	_, err = h2.Update(short, "impatient", func(old cid.Cid) (cid.Cid, error) {
		impatient = append(impatient, old)
		return put(tr, "root/impatient")(old)
	})
	wantKind(t, "Update while locked", err, acerr.Locked)
	if len(impatient) != 1 || !impatient[0].Equals(c0) {
		t.Errorf("the impatient Update computed from %v, want once from %s, outside the lock", impatient, c0)
	}

	var patient []cid.Cid
	got := make(chan error, 1)
	computed := make(chan struct{})
	go func() {
		_, err := h2.Update(ctx, "patient", func(old cid.Cid) (cid.Cid, error) {
			patient = append(patient, old)
			if len(patient) == 1 {
				close(computed)
			}
			return put(tr, "root/patient")(old)
		})
		got <- err
	}()
	<-computed // computed while the lock is held
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("patient Update: %v", err)
	}
	log, _ := h2.Log()
	if len(log) != 3 || log[0].Command != "patient" || log[1].Command != "ac-slow root/slow" {
		t.Fatalf("Log() = %+v, want init, slow, patient", log)
	}
	if len(patient) != 2 || !patient[0].Equals(c0) || !patient[1].Equals(log[1].New) {
		t.Errorf("the patient Update computed from %v, want %s, then the slow change's %s", patient, c0, log[1].New)
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
		commands  []string // of the log after the next Update, newest first
	}{
		{"HEAD garbage", "garbage\n", "", acerr.Integrity, 0, nil},
		{"HEAD without newline", good.String(), "", acerr.Integrity, 0, nil},
		{"HEAD empty", "", "", acerr.Integrity, 0, nil},
		{"torn last log line", good.String() + "\n", line("a", cid.Undef, good) + `{"time":"2026`, 0, 0, []string{"next", "a"}},
		// Cutting the torn line leaves HEAD out of the log: it gets a line.
		{"torn log, no newline at all", good.String() + "\n", `{"ti`, 0, 0, []string{"next", head.RecoveredCommand}},
		{"damaged log line", good.String() + "\n", "{}\n" + line("a", cid.Undef, good), 0, acerr.Integrity, nil},
		{"log line with unknown field", good.String() + "\n", `{"time":"2026-01-02T03:04:05Z","command":"a","old":"","new":"` + good.String() + `","x":1}` + "\n", 0, acerr.Integrity, nil},
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
		h := head.Open(home, st, head.Config{})
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
		var got []string
		for _, e := range log {
			got = append(got, e.Command)
		}
		if err != nil || !slices.Equal(got, tt.commands) {
			t.Errorf("%s: Log() = %+v, %v; want commands %q", tt.name, log, err, tt.commands)
		}
	}

	// A home that does not exist is not initialised.
	h := head.Open(filepath.Join(t.TempDir(), "missing"), st, head.Config{})
	_, err := h.Update(ctx, "x", func(old cid.Cid) (cid.Cid, error) { return good, nil })
	wantKind(t, "Update in a missing home", err, acerr.NotInit)
}

// TestHeadReplacesStaleTemporary: a HEAD.tmp left by a process killed
// while it wrote one, even one that cannot be written to, neither stops
// the next change nor stays behind.
func TestHeadReplacesStaleTemporary(t *testing.T) {
	home := t.TempDir()
	tr, st := newTree(t, tree.Config{})
	stale := filepath.Join(home, "HEAD.tmp")
	if err := os.WriteFile(stale, []byte("half"), 0o400); err != nil {
		t.Fatal(err)
	}
	h := head.Open(home, st, head.Config{})
	ctx := context.Background()
	c, err := h.Update(ctx, "x", func(old cid.Cid) (cid.Cid, error) { return tr.Put(ctx, old, "root/x", file("x")) })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.Get(); err != nil || !got.Equals(c) {
		t.Errorf("Get() = %s, %v; want %s", got, err, c)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("Update left %s behind", stale)
	}
}

// put returns an Update function that puts a file at path.
func put(tr *tree.Tree, path string) func(cid.Cid) (cid.Cid, error) {
	return func(old cid.Cid) (cid.Cid, error) { return tr.Put(context.Background(), old, path, file(path)) }
}

// checkAgrees checks what a reader sees of home after whatever happened
// to it, then makes one more change and checks the log file itself: every
// line follows the one before it (its old root is the other's new one),
// and the last one is HEAD's.
func checkAgrees(t *testing.T, what, home string, st ipfsstore.Store) {
	t.Helper()
	h := head.Open(home, st, head.Config{})
	root, err := h.Get()
	if err != nil {
		t.Fatalf("%s: Get: %v", what, err)
	}
	log, err := h.Log()
	if err != nil || len(log) == 0 || !log[0].New.Equals(root) {
		t.Fatalf("%s: Log() = %+v, %v; want it to end at HEAD %s", what, log, err, root)
	}
	tr := tree.New(st, tree.Config{Replica: "check"})
	next, err := h.Update(context.Background(), "next", put(tr, "root/next"))
	if err != nil {
		t.Fatalf("%s: the next Update: %v", what, err)
	}
	log, err = h.Log()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(home, "log"))
	if lines := bytes.Count(data, []byte("\n")); lines != len(log) || !log[0].New.Equals(next) {
		t.Fatalf("%s: after the next Update the log file has %d lines, Log %d entries ending at %s; want all of them, ending at %s",
			what, lines, len(log), log[0].New, next)
	}
	for i := 0; i+1 < len(log); i++ {
		if !log[i].Old.Equals(log[i+1].New) {
			t.Errorf("%s: log entry %d (%s) starts at %s, but the one before it ended at %s", what, i, log[i].Command, log[i].Old, log[i+1].New)
		}
	}
	if last := log[len(log)-1]; last.Old.Defined() {
		t.Errorf("%s: the oldest log entry starts at %s, want nothing", what, last.Old)
	}
}

// headWithChange returns a home with one change made, its store and the
// root.
func headWithChange(t *testing.T) (string, ipfsstore.Store, *tree.Tree, cid.Cid) {
	t.Helper()
	home, st := newHome(t)
	tr := tree.New(st, tree.Config{Replica: "r1"})
	c0, err := head.Open(home, st, head.Config{}).Update(context.Background(), "init", put(tr, "root/init"))
	if err != nil {
		t.Fatal(err)
	}
	return home, st, tr, c0
}

// commitOps returns the names of the file operations of one change.
func commitOps(t *testing.T) []string {
	t.Helper()
	home, st, tr, _ := headWithChange(t)
	h := head.Open(home, st, head.Config{})
	var ops []string
	head.SetFault(h, func(op string) error { ops = append(ops, op); return nil })
	if _, err := h.Update(context.Background(), "change", put(tr, "root/a")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sync store", "write HEAD.tmp", "write log", "sync log", "rename HEAD.tmp", "sync home"} {
		if !slices.Contains(ops, want) {
			t.Fatalf("the operations of a change, %q, lack %q", ops, want)
		}
	}
	return ops
}

// TestHeadFaults makes each file operation of a change fail in turn,
// once (a passing fault) and from then on (a disk that dies there):
// Update must fail exactly when HEAD did not move, and once the faults
// are gone the log must agree with HEAD and take the next change.
func TestHeadFaults(t *testing.T) {
	ctx := context.Background()
	ops := commitOps(t)
	injected := errors.New("injected fault")
	for _, mode := range []string{"once", "from then on"} {
		for i, name := range ops {
			what := fmt.Sprintf("fault %s at %d (%s)", mode, i+1, name)
			home, st, tr, c0 := headWithChange(t)
			h := head.Open(home, st, head.Config{})
			n := 0
			head.SetFault(h, func(string) error {
				if n++; n == i+1 || (mode != "once" && n > i+1) {
					return injected
				}
				return nil
			})
			got, err := h.Update(ctx, "change", put(tr, "root/a"))
			now, gerr := head.Open(home, st, head.Config{}).Get()
			if gerr != nil {
				t.Fatalf("%s: Get: %v", what, gerr)
			}
			switch moved := !now.Equals(c0); {
			case err != nil && moved:
				t.Errorf("%s: Update failed (%v), but HEAD moved to %s", what, err, now)
			case err == nil && !moved:
				t.Errorf("%s: Update succeeded, but HEAD did not move", what)
			case err == nil && !got.Equals(now):
				t.Errorf("%s: Update returned %s, HEAD holds %s", what, got, now)
			}
			// A passing fault is cleaned up at once: no line is left for
			// a change that failed, and no HEAD.tmp.
			data, _ := os.ReadFile(filepath.Join(home, "log"))
			if lines := bytes.Count(data, []byte("\n")); mode == "once" && err != nil && lines != 1 {
				t.Errorf("%s: the log has %d lines after the failed change, want 1", what, lines)
			}
			if _, serr := os.Stat(filepath.Join(home, "HEAD.tmp")); mode == "once" && serr == nil {
				t.Errorf("%s: HEAD.tmp is left behind", what)
			}
			checkAgrees(t, what, home, st)
		}
	}
}

// TestHeadCrash ends a process at each file operation of a change, as
// kill -9 would: the home it leaves opens, its HEAD is the old root or the
// new one, the log as read ends at HEAD, and the next change puts the log
// file itself in order.
func TestHeadCrash(t *testing.T) {
	ops := commitOps(t)
	for n := 1; n <= len(ops)+1; n++ {
		what := fmt.Sprintf("crash at %d of %d", n, len(ops))
		home, st, _, c0 := headWithChange(t)
		cmd := helperCmd(t, home, fmt.Sprintf("crash %d", n), "c")
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case n <= len(ops) && (!errors.As(err, &exit) || exit.ExitCode() != 3):
			t.Fatalf("%s: the helper did not crash where told: %v: %s", what, err, cmd.Stderr)
		case n > len(ops) && err != nil:
			t.Fatalf("%s: the helper failed: %v: %s", what, err, cmd.Stderr)
		}
		h := head.Open(home, st, head.Config{})
		now, err := h.Get()
		if err != nil {
			t.Fatalf("%s: Get: %v", what, err)
		}
		if n > len(ops) && now.Equals(c0) {
			t.Errorf("%s: the change that ran to its end is not in HEAD", what)
		}
		checkAgrees(t, what, home, st)
	}
}

// TestHeadReconcile gives Update homes whose log and HEAD disagree in
// the ways a crash, a lost file or an edit leaves them.
func TestHeadReconcile(t *testing.T) {
	ctx := context.Background()
	appendLine := func(t *testing.T, home, line string) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(home, "log"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	commands := func(t *testing.T, h *head.Head) []string {
		t.Helper()
		log, err := h.Log()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range log {
			out = append(out, e.Command)
		}
		return out
	}

	t.Run("line without its HEAD", func(t *testing.T) {
		home, st, tr, c0 := headWithChange(t)
		never := mustPut(t, tr, c0, "root/never", file("never"))
		appendLine(t, home, fmt.Sprintf(`{"time":"2026-01-02T03:04:05Z","command":"never","old":"%s","new":"%s"}`, c0, never))
		h := head.Open(home, st, head.Config{})
		if got := commands(t, h); !slices.Equal(got, []string{"init"}) {
			t.Errorf("Log shows %q, want the change that never reached HEAD left out", got)
		}
		if _, err := h.Update(ctx, "next", put(tr, "root/next")); err != nil {
			t.Fatal(err)
		}
		if got := commands(t, h); !slices.Equal(got, []string{"next", "init"}) {
			t.Errorf("after the next change Log shows %q, want [next init]", got)
		}
		checkAgrees(t, "line without its HEAD", home, st)
	})

	t.Run("HEAD without its line", func(t *testing.T) {
		home, st, tr, c0 := headWithChange(t)
		other := mustPut(t, tr, c0, "root/other", file("other"))
		if err := os.WriteFile(filepath.Join(home, "HEAD"), []byte(other.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		h := head.Open(home, st, head.Config{})
		if _, err := h.Update(ctx, "next", put(tr, "root/next")); err != nil {
			t.Fatal(err)
		}
		log, _ := h.Log()
		if got := commands(t, h); !slices.Equal(got, []string{"next", head.RecoveredCommand, "init"}) ||
			!log[1].Old.Equals(c0) || !log[1].New.Equals(other) {
			t.Errorf("Log = %+v; want a recovered line %s → %s before the next change", log, c0, other)
		}
		checkAgrees(t, "HEAD without its line", home, st)
	})

	t.Run("no log", func(t *testing.T) {
		home, st, tr, _ := headWithChange(t)
		os.Remove(filepath.Join(home, "log"))
		h := head.Open(home, st, head.Config{})
		if _, err := h.Update(ctx, "next", put(tr, "root/next")); err != nil {
			t.Fatal(err)
		}
		if got := commands(t, h); !slices.Equal(got, []string{"next", head.RecoveredCommand}) {
			t.Errorf("Log shows %q, want HEAD recovered into a new log", got)
		}
		checkAgrees(t, "no log", home, st)
	})

	t.Run("log without HEAD", func(t *testing.T) {
		home, st, tr, _ := headWithChange(t)
		os.Remove(filepath.Join(home, "HEAD"))
		before, _ := os.ReadFile(filepath.Join(home, "log"))
		h := head.Open(home, st, head.Config{})
		called := false
		_, err := h.Update(ctx, "fresh start", func(old cid.Cid) (cid.Cid, error) { called = true; return put(tr, "root/x")(old) })
		wantKind(t, "Update of a home with a log and no HEAD", err, acerr.Integrity)
		if called {
			t.Errorf("Update computed a change from nothing in a home with a history")
		}
		if _, err := os.Stat(filepath.Join(home, "HEAD")); err == nil {
			t.Errorf("Update made a HEAD")
		}
		if after, _ := os.ReadFile(filepath.Join(home, "log")); !bytes.Equal(after, before) {
			t.Errorf("Update changed the log of a damaged home")
		}
	})
}

// TestHeadRepair replaces a HEAD that is missing, damaged or whole with
// a root chosen from the history.
func TestHeadRepair(t *testing.T) {
	ctx := context.Background()
	for _, damage := range []string{"missing", "garbage", "whole"} {
		home, st, tr, c0 := headWithChange(t)
		h := head.Open(home, st, head.Config{Replica: "r1"})
		c1, err := h.Update(ctx, "second", put(tr, "root/b"))
		if err != nil {
			t.Fatal(err)
		}
		switch damage {
		case "missing":
			os.Remove(filepath.Join(home, "HEAD"))
		case "garbage":
			os.WriteFile(filepath.Join(home, "HEAD"), []byte("garbage\n"), 0o600)
		}
		var gotCur cid.Cid
		var gotLog []head.LogEntry
		choose := func(cur cid.Cid, log []head.LogEntry) (cid.Cid, error) {
			gotCur, gotLog = cur, log
			return c0, nil // the older of the two, as if c1's blocks were lost
		}
		r, err := h.Repair(ctx, "repair", choose)
		if err != nil || !r.Equals(c0) {
			t.Fatalf("%s: Repair = %s, %v; want %s", damage, r, err, c0)
		}
		if want := cid.Undef; damage == "whole" {
			want = c1
			if !gotCur.Equals(want) {
				t.Errorf("%s: choose was given %s, want %s", damage, gotCur, want)
			}
		} else if gotCur.Defined() {
			t.Errorf("%s: choose was given %s, want nothing", damage, gotCur)
		}
		if len(gotLog) != 2 || !gotLog[0].New.Equals(c1) || !gotLog[1].New.Equals(c0) {
			t.Errorf("%s: choose was given the log %+v, want second then init", damage, gotLog)
		}
		log, err := h.Log()
		if err != nil || len(log) != 3 || log[0].Command != "repair" || !log[0].New.Equals(c0) || log[0].Replica != "r1" {
			t.Errorf("%s: Log after Repair = %+v, %v; want a repair line to %s by r1", damage, log, err, c0)
		}
		if damage == "whole" && !log[0].Old.Equals(c1) {
			t.Errorf("%s: the repair line starts at %s, want %s", damage, log[0].Old, c1)
		}
		checkAgrees(t, damage, home, st)
	}

	// A choice that fails changes nothing; one of the current root only
	// puts the log in order.
	home, st, tr, c0 := headWithChange(t)
	h := head.Open(home, st, head.Config{})
	never := mustPut(t, tr, c0, "root/never", file("never"))
	f, _ := os.OpenFile(filepath.Join(home, "log"), os.O_WRONLY|os.O_APPEND, 0)
	fmt.Fprintf(f, `{"time":"2026-01-02T03:04:05Z","command":"never","old":"%s","new":"%s"}`+"\n", c0, never)
	f.Close()
	if _, err := h.Repair(ctx, "repair", func(cid.Cid, []head.LogEntry) (cid.Cid, error) { return cid.Undef, nil }); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("Repair to an undefined root = %v, want Invalid", err)
	}
	errChoose := errors.New("nothing fits")
	if _, err := h.Repair(ctx, "repair", func(cid.Cid, []head.LogEntry) (cid.Cid, error) { return cid.Undef, errChoose }); err != errChoose {
		t.Errorf("Repair with a failing choice = %v, want its error unchanged", err)
	}
	var seen []head.LogEntry
	if r, err := h.Repair(ctx, "repair", func(cur cid.Cid, log []head.LogEntry) (cid.Cid, error) { seen = log; return cur, nil }); err != nil || !r.Equals(c0) {
		t.Errorf("Repair keeping HEAD = %s, %v; want %s", r, err, c0)
	}
	if len(seen) != 1 || seen[0].Command != "init" {
		t.Errorf("Repair gave choose %+v, want the log without the line that never reached HEAD", seen)
	}
	checkAgrees(t, "repair keeping HEAD", home, st)
}

// TestHeadLockWait: a change waiting for the lock reports once who holds
// it, then gives up after the lock timeout, having computed its change
// (outside the lock) but swapped nothing; the holder's name is gone from
// the lock file once it lets go.
func TestHeadLockWait(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	tr, st := newTree(t, tree.Config{})
	c0, err := head.Open(home, st, head.Config{}).Update(ctx, "init", put(tr, "root/init"))
	if err != nil {
		t.Fatal(err)
	}
	release, done := holdLock(t, home, st, tr)
	var told []head.LockHolder
	waiter := head.Open(home, st, head.Config{
		LockTimeout: 100 * time.Millisecond,
		Notice:      time.Millisecond,
		Waiting:     func(l head.LockHolder) { told = append(told, l) },
	})
	called := 0
	_, err = waiter.Update(ctx, "ac-impatient", func(old cid.Cid) (cid.Cid, error) { called++; return put(tr, "root/impatient")(old) })
	wantKind(t, "Update after the lock timeout", err, acerr.Locked)
	if called != 1 {
		t.Errorf("Update computed its change %d times, want once", called)
	}
	if want := (head.LockHolder{PID: os.Getpid(), Command: "ac-slow root/slow"}); len(told) != 1 || told[0] != want {
		t.Errorf("Waiting was told %+v, want once %+v", told, want)
	}
	if now, err := waiter.Get(); err != nil || !now.Equals(c0) {
		t.Errorf("Get() = %s, %v; want %s: neither change has gone through", now, err, c0)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(home, "lock")); err != nil || len(data) != 0 {
		t.Errorf("lock file after the holder let go = %q, %v; want empty", data, err)
	}
	// With the lock free, the same Head goes through without a word.
	told = nil
	if _, err := waiter.Update(ctx, "ac-patient", put(tr, "root/patient")); err != nil || len(told) != 0 {
		t.Errorf("Update with the lock free = %v, told %+v; want success and silence", err, told)
	}
}
