package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/term"
)

// TestMain makes the test binary double as every ac-* command, so the
// scripts under testdata/script run the real commands in-process.
func TestMain(m *testing.M) {
	cmds := map[string]func(){}
	for _, name := range Names() {
		cmds[name] = func() { os.Exit(mainChecked(name)) }
	}
	testscript.Main(m, cmds)
}

// opName matches an internal operation's name, such as tree.Lookup.
var opName = regexp.MustCompile(`\b(acerr|atomicfile|car|head|home|identity|ipfsstore|kuborpc|localfs|merge|message|policy|schema|tree|unixfs)\.[A-Z][A-Za-z]*`)

// mainChecked runs the command as Main does, and fails it (status 99)
// if what it wrote on stderr names an internal operation: every script
// checks that a user never reads one. A terminal on stderr stays the
// command's own, for the tests of what it draws there.
func mainChecked(name string) int {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return Main(name)
	}
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var got strings.Builder
	done := make(chan struct{})
	go func() {
		io.Copy(io.MultiWriter(stderr, &got), r)
		close(done)
	}()
	code := Main(name)
	w.Close()
	<-done
	os.Stderr = stderr
	if m := opName.FindString(got.String()); m != "" {
		fmt.Fprintf(stderr, "stderr names the internal operation %s\n", m)
		return 99
	}
	return code
}

// TestScript runs testdata/script/<cmd>_<topic>.txtar. Each script gets
// its own $WORK; AC_HOME points at $WORK/home unless the script sets it.
// Set AC_UPDATE=1 to rewrite the scripts' expected output files.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("AC_UPDATE") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("AC_HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("AC_API", "")
			env.Setenv("AC_PASSPHRASE", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonpath": jsonpath,
			"status":   status,
		},
	})
}

// status N PROG [ARGS...] runs PROG like exec and checks that it exits
// with status N (exec only tells zero from non-zero, and bad usage must
// exit 2, not 1). Its stdout and stderr can be checked afterwards.
func status(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! status")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: status N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	var exit *exec.ExitError
	if err := ts.Exec(args[1], args[2:]...); errors.As(err, &exit) {
		got = exit.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// jsonpath KEYS REGEXP [VAR] checks that the last command's stdout is
// one JSON value and that the value at KEYS matches REGEXP. KEYS are
// object keys and array indexes joined by dots (".0.name"); "#" is the
// length of an array or object (quote it: '.#', or the script reads a
// comment); "." alone is the whole value. A string is matched without
// its quotes, anything else as compact JSON. With "!" the value must
// exist and not match. Given VAR, the value is also stored in $VAR, so
// that a script can use a CID it has just checked the shape of.
func jsonpath(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: jsonpath KEYS REGEXP [VAR]")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("stdout is not one JSON value: %v", err)
	}
	var keys []string
	if p := strings.Trim(args[0], "."); p != "" {
		keys = strings.Split(p, ".")
	}
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if k == "#" {
				v = len(x)
			} else if v, ok = x[k]; !ok {
				ts.Fatalf("%s: no key %q", args[0], k)
			}
		case []any:
			i, err := strconv.Atoi(k)
			switch {
			case k == "#":
				v = len(x)
			case err != nil || i < 0 || i >= len(x):
				ts.Fatalf("%s: no index %q in an array of %d", args[0], k, len(x))
			default:
				v = x[i]
			}
		default:
			ts.Fatalf("%s: key %q inside the scalar %v", args[0], k, v)
		}
	}
	s, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		ts.Check(err)
		s = string(b)
	}
	if re.MatchString(s) == neg {
		if neg {
			ts.Fatalf("%s = %q matches %q", args[0], s, args[1])
		}
		ts.Fatalf("%s = %q, want a match for %q", args[0], s, args[1])
	}
	if len(args) == 3 {
		ts.Setenv(args[2], s)
	}
}
