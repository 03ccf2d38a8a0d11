// Package cli implements the ac-* commands: flags, printing and exit
// codes, and nothing else. What a command does to a home is a method of
// package home (the use-cases the mount and the receiver call as well),
// and the local disk's side is package localfs. Each command is one file
// with its help text, its own flag set and options, and a plain
// runX(ctx, env, opts, args) error, so a test runs one command without
// the others; the binaries under tools/ are five-line mains that call
// Main. Commands write only to the streams they are given and hold no
// package state, so tests run them in-process.
//
// Conventions for every command: -h prints usage with an example; --home
// (AC_HOME) selects the home, --api (AC_API) a kubo daemon,
// --fetch-timeout (AC_FETCH_TIMEOUT) how long a block the daemon lacks is
// waited for and --lock-timeout (AC_LOCK_TIMEOUT) how long a change waits
// for the home's lock; flags may come before or after the arguments; the
// exit statuses are the Exit constants; an error is one line on stderr, "ac-NAME:
// OBJECT: cause" (acerr.Brief: no internal operation names), or, for a
// command run with --json, one JSON object, in which control and format
// characters are escaped; names and paths on line-oriented output are
// quoted as git quotes paths when they hold such characters, '"' or '\'
// (quote.go); a command that waits for the lock says so on stderr after a
// second, naming the holder; progress goes to stderr only when stderr is a
// terminal; --json is offered where a command lists things.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/head"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
	"github.com/ipfs/go-cid"
	"golang.org/x/term"
)

// Exit statuses. Scripts depend on them: the list only grows.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // failed; the error line says why, and nothing changed
	ExitUsage       = 2   // bad usage: unknown flags, wrong arguments
	ExitLocked      = 3   // another process held the home's lock past --lock-timeout
	ExitInterrupted = 130 // interrupted (SIGINT, SIGTERM) before it finished; nothing changed
)

// DefaultLockTimeout is how long a change waits for the home's lock
// unless --lock-timeout or AC_LOCK_TIMEOUT says otherwise. A change holds
// the lock only to swap HEAD (package head), never while it computes,
// so a wait this long means a holder that has stopped: long enough for
// any swap on a slow disk, short enough that it does not hang a script
// for ever.
const DefaultLockTimeout = 5 * time.Minute

// command is one ac-* command. setup defines the command's flags on fs and
// returns the function that runs it with the positional arguments.
type command struct {
	usage string // synopsis, one line per form
	help  string // what it does, flags are appended, then the example
	setup func(fs *flag.FlagSet, e *Env) func(ctx context.Context, args []string) error
}

// commands maps a name (without the ac- prefix) to its command.
func commands() map[string]*command {
	return map[string]*command{
		"init":       cmdInit(),
		"identity":   cmdIdentity(),
		"verify":     cmdVerify(),
		"node":       cmdNode(),
		"friend":     cmdFriend(),
		"message":    cmdMessage(),
		"add":        cmdAdd(),
		"get":        cmdGet(),
		"ls":         cmdLs(),
		"cat":        cmdCat(),
		"delete":     cmdDelete(),
		"mv":         cmdMv(),
		"cp":         cmdCp(),
		"find":       cmdFind(),
		"du":         cmdDu(),
		"status":     cmdStatus(),
		"completion": cmdCompletion(),
		"gc":         cmdGC(),
		"info":       cmdInfo(),
		"log":        cmdLog(),
		"merge":      cmdMerge(),
		"merge-all":  cmdMergeAll(),
		"diff":       cmdDiff(),
		"restore":    cmdRestore(),
		"export":     cmdExport(),
		"import":     cmdImport(),
	}
}

// Names lists the commands' binary names, sorted.
func Names() []string {
	var names []string
	for n := range commands() {
		names = append(names, "ac-"+n)
	}
	sort.Strings(names)
	return names
}

// Env is what a command runs with.
type Env struct {
	Name   string // "ac-add"
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	HomeDir      string
	API          string
	LockTimeout  time.Duration // 0: wait until interrupted
	FetchTimeout time.Duration // how long a block the kubo daemon lacks is waited for

	// On a terminal, the blocks the kubo store asks of its daemon's
	// peers, and the meter that shows them (progress.go).
	fetched     *progress.Counter
	fetchMeter  *meter
	noFetchLine bool // --json: stderr takes JSON lines only
}

// usageError marks an error as bad usage (exit 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Main runs the named command with the process's arguments and streams,
// and returns the exit status.
func Main(name string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, name, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
}

// Run runs command name ("add" or "ac-add") with args.
func Run(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	name = strings.TrimPrefix(name, "ac-")
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "ac-%s: unknown command\n", oneLine(name))
		return ExitUsage
	}
	e := &Env{Name: "ac-" + name, Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}
	fs := flag.NewFlagSet(e.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.HomeDir, "home", "", "the home `directory` (default $AC_HOME, else ~/.archivecache)")
	fs.StringVar(&e.API, "api", "", "kubo RPC `address`, e.g. /ip4/127.0.0.1/tcp/5001 (default $AC_API; none: the embedded store)")
	fs.DurationVar(&e.LockTimeout, "lock-timeout", 0,
		"give up a change after waiting `duration` for the home's lock (default $AC_LOCK_TIMEOUT, else 5m: a change holds the lock only to swap HEAD, so a wait that long means a stopped holder; 0: wait until interrupted)")
	fs.DurationVar(&e.FetchTimeout, "fetch-timeout", 0,
		"with --api, give up a block the daemon does not hold once its peers have not sent it within `duration` (default $AC_FETCH_TIMEOUT, else 10s)")
	showVersion := fs.Bool("version", false, "print the version of the command and exit")
	run := cmd.setup(fs, e)
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, e.Name, cmd, fs)
		return ExitOK
	}
	if err == nil && *showVersion {
		fmt.Fprintf(stdout, "%s %s\n", e.Name, version())
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\nusage: %s\n", e.Name, oneLine(err.Error()), synopsis(cmd))
		return ExitUsage
	}
	if e.HomeDir == "" {
		e.HomeDir = getenv("AC_HOME")
	}
	if e.HomeDir == "" {
		e.HomeDir = home.DefaultDir()
	}
	if e.API == "" {
		e.API = getenv("AC_API")
	}
	if err := e.timeouts(fs); err != nil {
		fmt.Fprintf(stderr, "%s: %s\nusage: %s\n", e.Name, oneLine(err.Error()), synopsis(cmd))
		return ExitUsage
	}
	e.noFetchLine = jsonFlag(fs)
	err = run(ctx, pos)
	if e.fetchMeter != nil {
		e.fetchMeter.stop(err == nil)
	}
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s\nusage: %s\n", e.Name, oneLine(err.Error()), synopsis(cmd))
		return ExitUsage
	case errors.As(err, new(silentFailure)):
		return ExitFailure
	}
	return fail(ctx, e, fs, err)
}

// fail reports err, the failure of a command that ran, on one line of
// stderr (a JSON object, if the command was asked for --json) and
// returns its exit status.
func fail(ctx context.Context, e *Env, fs *flag.FlagSet, err error) int {
	code, line := ExitFailure, acerr.Brief(err)
	if nr, ok := errors.AsType[*ipfsstore.NotReceived](err); ok && !strings.Contains(line, home.NotReceivedHint) {
		// A command that does not name the friend (home.NotReceived)
		// still names what it read, not the daemon's address or a CID.
		line = notReceivedLine(err, nr)
	}
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		code, line = ExitInterrupted, "interrupted"
	case acerr.Is(acerr.Locked, err):
		code, line = ExitLocked, line+" (wait longer with --lock-timeout)"
	}
	if f := fs.Lookup("json"); f != nil && f.Value.String() == "true" {
		kind := acerr.KindOf(err)
		if code == ExitInterrupted {
			kind = acerr.Other
		}
		out, _ := json.Marshal(struct {
			Command string `json:"command"`
			Object  string `json:"object,omitempty"`
			Kind    string `json:"kind"`
			Error   string `json:"error"`
			Exit    int    `json:"exit"`
		}{e.Name, acerr.Object(err), kind.Code(), line, code})
		fmt.Fprintf(e.Stderr, "%s\n", out)
		return code
	}
	fmt.Fprintf(e.Stderr, "%s: %s\n", e.Name, oneLine(line))
	return code
}

// notReceivedLine is the error line of a block the daemon's peers did not
// send in time: the innermost tree path err names, if any.
func notReceivedLine(err error, nr *ipfsstore.NotReceived) string {
	what := ""
	var x *acerr.Error
	for e := err; errors.As(e, &x); e = x.Err {
		if p := x.Path; p != "" && p != "." && !strings.HasPrefix(p, "/") && !strings.Contains(p, "://") {
			what = p // a tree path: the daemon's address starts with / or has a scheme
		}
	}
	msg := fmt.Sprintf("does not exist here and did not come from the daemon's peers within %v (%s)", nr.Within, home.NotReceivedHint)
	if what == "" {
		return "a block " + msg
	}
	return what + ": " + msg
}

// timeouts takes the lock timeout from $AC_LOCK_TIMEOUT, else
// DefaultLockTimeout, and the fetch timeout from $AC_FETCH_TIMEOUT, else
// ipfsstore.DefaultFetchTimeout, unless the flags set them, and checks
// them.
func (e *Env) timeouts(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["fetch-timeout"] {
		e.FetchTimeout = ipfsstore.DefaultFetchTimeout
		if v := e.Getenv("AC_FETCH_TIMEOUT"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("AC_FETCH_TIMEOUT=%q: not a duration such as 500ms or 30s", v)
			}
			e.FetchTimeout = d
		}
	}
	if e.FetchTimeout <= 0 {
		return fmt.Errorf("fetch timeout %v: want more than 0", e.FetchTimeout)
	}
	if !set["lock-timeout"] {
		e.LockTimeout = DefaultLockTimeout
		if v := e.Getenv("AC_LOCK_TIMEOUT"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("AC_LOCK_TIMEOUT=%q: not a duration such as 30s or 2m", v)
			}
			e.LockTimeout = d
		}
	}
	if e.LockTimeout < 0 {
		return fmt.Errorf("lock timeout %v: want 0 (no limit) or more", e.LockTimeout)
	}
	return nil
}

// parse parses flags anywhere among the arguments; "--" ends flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	args = splitShort(fs, args)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" or at the first non-flag argument.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// version says which build this is: the module's version and, from
// the build's VCS stamp, the commit, its time, and "modified" if the
// work tree had changes.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "archivecache (version unknown)"
	}
	v := "archivecache " + bi.Main.Version
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (commit " + rev[:min(12, len(rev))] + " of " + at + dirty + ")"
	}
	return v + " " + bi.GoVersion
}

// splitShort spells short flags as the flag package takes them, the way
// ls, head and git take them: "-lR" as "-l -R" when each letter is a
// flag that takes no value ("h" in a group stands for --human where a
// command has it, as in ls -lh; -h alone is help), "-n5" as "-n 5" for
// a flag of one letter with a number; an argument that is a flag by its
// own name stays.
func splitShort(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.Contains(a, "=") && fs.Lookup(a[1:]) == nil {
			if f := fs.Lookup(a[1:2]); f != nil {
				if _, err := strconv.Atoi(a[2:]); err == nil && !isBool(f) {
					out = append(out, a[:2], a[2:])
					continue
				}
			}
			short := func(c rune) string {
				if c == 'h' && fs.Lookup("human") != nil {
					return "human"
				}
				return string(c)
			}
			split := true
			for _, c := range a[1:] {
				f := fs.Lookup(short(c))
				split = split && f != nil && isBool(f)
			}
			if split {
				for _, c := range a[1:] {
					out = append(out, "-"+short(c))
				}
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// isBool reports whether f is a flag that takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// synopsis is the command's usage, every form on its own aligned line.
func synopsis(cmd *command) string {
	return strings.ReplaceAll(cmd.usage, "\n", "\n       ")
}

func printHelp(w io.Writer, name string, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", synopsis(cmd), strings.TrimSpace(cmd.help))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nexit status: 0 success, 1 failure, 2 bad usage, 3 the home stayed locked, 130 interrupted.\n")
}

// open opens the home the flags select.
func (e *Env) open(ctx context.Context) (*home.Home, error) {
	return home.Open(ctx, e.options())
}

// openSigning opens the home with the passphrase of its sealed keys: the
// contents of passFile if given, else $AC_PASSPHRASE.
func (e *Env) openSigning(ctx context.Context, passFile string) (*home.Home, error) {
	pass, err := e.passphrase(passFile)
	if err != nil {
		return nil, err
	}
	o := e.options()
	o.Passphrase = pass
	if passFile != "" {
		o.PassphrasePrompt = nil // the file's, or nothing
	}
	return home.Open(ctx, o)
}

// options are the home options the flags select. A change that waits for
// the lock says so once, naming the holder, however many times it tries
// again (head.Update computes again when HEAD moved meanwhile).
func (e *Env) options() home.Options {
	var once sync.Once
	e.watchFetches()
	return home.Options{
		Passphrase:       []byte(e.Getenv("AC_PASSPHRASE")),
		PassphrasePrompt: e.prompter("passphrase of the sealed key: "),
		Dir:              e.HomeDir,
		API:              e.API,
		FetchTimeout:     e.FetchTimeout,
		Fetched:          e.fetched,
		LockTimeout:      e.LockTimeout,
		LockWaiting: func(holder head.LockHolder) {
			once.Do(func() {
				fmt.Fprintf(e.Stderr, "%s: waiting for the lock of %s: %s holds it\n", e.Name, e.HomeDir, holder)
			})
		},
	}
}

// interactive reports whether stderr is a terminal (progress is shown
// then), under the meter of blocks fetched if that is shown.
func (e *Env) interactive() bool {
	w := e.Stderr
	if m := e.fetchMeter; m != nil && w == (meterWriter{m}) {
		w = m.stderr
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminal returns the terminal on stdin, if stdin is one.
func (e *Env) terminal() (int, bool) {
	f, ok := e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// prompter returns a function that asks for a passphrase on the
// terminal on stdin, not echoing it, or nil if stdin is no terminal.
func (e *Env) prompter(question string) func() ([]byte, error) {
	fd, ok := e.terminal()
	if !ok {
		return nil
	}
	return func() ([]byte, error) {
		fmt.Fprintf(e.Stderr, "%s: %s", e.Name, question)
		pass, err := term.ReadPassword(fd)
		fmt.Fprintln(e.Stderr)
		if err != nil {
			return nil, fmt.Errorf("reading the passphrase: %w", err)
		}
		return pass, nil
	}
}

// nargs checks the number of positional arguments.
func nargs(args []string, min, max int) error {
	if len(args) < min {
		return usagef("missing argument")
	}
	if max >= 0 && len(args) > max {
		return usagef("too many arguments: %q", args[max:])
	}
	return nil
}

// passphrase returns the passphrase for sealed keys: the contents of file
// if given, else $AC_PASSPHRASE.
func (e *Env) passphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	return []byte(e.Getenv("AC_PASSPHRASE")), nil
}

// openHead opens the home and reads its HEAD, for the commands that only
// read the tree.
func openHead(ctx context.Context, e *Env) (*home.Home, cid.Cid, error) {
	h, err := e.open(ctx)
	if err != nil {
		return nil, cid.Undef, err
	}
	head, err := h.Get()
	if err != nil {
		h.Close()
		return nil, cid.Undef, err
	}
	return h, head, nil
}
