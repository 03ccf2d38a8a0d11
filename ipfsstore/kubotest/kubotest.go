// Package kubotest runs real kubo daemons for tests.
//
// Start initialises a repo in a temporary directory with the test profile
// (no bootstrap peers, no MDNS, no AutoConf), points its API, gateway and
// swarm at free loopback ports, starts `ipfs daemon`, waits until the API
// answers, and stops the daemon (SIGTERM, then wait) when the test ends.
// Only the processes it started are ever signalled.
//
// The ipfs binary is the kubo version pinned by the module's `tool`
// directive, found with `go tool -n ipfs` (which builds it into the Go
// cache the first time, taking a few minutes). AC_TEST_IPFS names a binary
// to use instead.
//
// Tests that need a daemon are skipped under -short, or when no binary can
// be had; with AC_TEST_DISALLOW_SKIP=1 such a skip fails the test instead.
package kubotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// Daemon is a running kubo daemon.
type Daemon struct {
	API   string // RPC API multiaddr, /ip4/127.0.0.1/tcp/PORT
	URL   string // RPC API as an http URL
	Swarm string // swarm multiaddr, /ip4/127.0.0.1/tcp/PORT
	Repo  string // the IPFS_PATH
	Bin   string // the ipfs binary

	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	once   sync.Once
	err    error
}

// Start runs a daemon for t and returns its API multiaddr.
func Start(t testing.TB) (api string) {
	t.Helper()
	return StartDaemon(t).API
}

// StartPair runs two daemons and connects a to b over the swarm, so that
// bitswap can move blocks between them.
func StartPair(t testing.TB) (a, b *Daemon) {
	t.Helper()
	a, b = StartDaemon(t), StartDaemon(t)
	Connect(t, a, b)
	return a, b
}

// Skip skips t with the reason, or fails it when AC_TEST_DISALLOW_SKIP=1.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("AC_TEST_DISALLOW_SKIP") == "1" {
		t.Fatalf("skip disallowed (AC_TEST_DISALLOW_SKIP=1): "+format, args...)
	}
	t.Skipf(format, args...)
}

// Binary returns the path of the ipfs binary: $AC_TEST_IPFS, or what
// `go tool -n ipfs` reports in the module root. It skips t (see Skip) if
// neither gives one.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AC_TEST_IPFS"); p != "" {
		return p
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		Skip(t, "kubotest: no go command to find the ipfs tool: %v", err)
	}
	gomod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 || string(bytes.TrimSpace(gomod)) == os.DevNull {
		Skip(t, "kubotest: not inside a module: %v", err)
	}
	cmd := exec.Command(goBin, "tool", "-n", "ipfs")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		Skip(t, "kubotest: go tool -n ipfs: %v: %s", err, lastLine(stderr.String()))
	}
	return string(bytes.TrimSpace(out))
}

// StartDaemon runs a daemon for t. It is stopped when t ends.
func StartDaemon(t testing.TB) *Daemon {
	t.Helper()
	if testing.Short() {
		Skip(t, "kubotest: a kubo daemon is not started under -short")
	}
	bin := Binary(t)
	var lastErr error
	for range 3 { // a free port may be taken before the daemon binds it
		d, err := start(t, bin)
		if err == nil {
			return d
		}
		lastErr = err
	}
	t.Fatalf("kubotest: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string) (*Daemon, error) {
	repo := t.TempDir()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		API:   fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[0]),
		URL:   fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		Swarm: fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[2]),
		Repo:  repo,
		Bin:   bin,
	}
	setup := [][]string{
		{"init", "--profile=test", "--empty-repo"},
		{"config", "--json", "Addresses.API", jsonString(d.API)},
		{"config", "--json", "Addresses.Gateway", jsonString(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[1]))},
		{"config", "--json", "Addresses.Swarm", "[" + jsonString(d.Swarm) + "]"},
	}
	for _, args := range setup {
		if _, err := d.run(context.Background(), nil, args...); err != nil {
			return nil, err
		}
	}

	d.out = &syncBuffer{}
	d.cmd = exec.Command(bin, "daemon", "--offline=false")
	d.cmd.Env = d.env()
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s daemon: %w", bin, err)
	}
	d.exited = make(chan struct{})
	go func() {
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("kubotest: %v", err)
		}
	})

	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Post(d.URL+"/api/v0/version", "", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("ipfs daemon exited before its API answered: %s", lastLine(d.out.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = d.Stop()
			return nil, fmt.Errorf("ipfs daemon API %s did not answer within %v: %s", d.API, startTimeout, lastLine(d.out.String()))
		}
	}
}

// Stop stops the daemon: SIGTERM, then SIGKILL if it has not exited after
// a while. Calling it again returns the first result.
func (d *Daemon) Stop() error {
	d.once.Do(func() {
		if d.cmd == nil || d.cmd.Process == nil {
			return
		}
		select {
		case <-d.exited:
			return
		default:
		}
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			d.err = fmt.Errorf("stopping ipfs daemon: %w", err)
		}
		select {
		case <-d.exited:
		case <-time.After(stopTimeout):
			_ = d.cmd.Process.Kill()
			<-d.exited
			d.err = fmt.Errorf("ipfs daemon did not stop within %v of SIGTERM; killed", stopTimeout)
		}
	})
	return d.err
}

// Output returns what the daemon has printed so far.
func (d *Daemon) Output() string { return d.out.String() }

// Run runs the ipfs command with args against the daemon's repo, with
// stdin as its input (may be nil), and returns its standard output. It
// fails t if the command fails.
func (d *Daemon) Run(t testing.TB, stdin io.Reader, args ...string) []byte {
	t.Helper()
	out, err := d.run(t.Context(), stdin, args...)
	if err != nil {
		t.Fatalf("kubotest: %v", err)
	}
	return out
}

func (d *Daemon) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.Bin, args...)
	cmd.Env = d.env()
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ipfs %s: %v: %s", strings.Join(args, " "), err, lastLine(stderr.String()))
	}
	return out, nil
}

func (d *Daemon) env() []string {
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IPFS_PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "IPFS_PATH="+d.Repo)
}

// PeerID returns the daemon's peer ID.
func (d *Daemon) PeerID(t testing.TB) string {
	t.Helper()
	var id struct{ ID string }
	d.rpc(t, "id", nil, &id)
	return id.ID
}

// Connect connects daemon a to daemon b over the loopback swarm.
func Connect(t testing.TB, a, b *Daemon) {
	t.Helper()
	addr := b.Swarm + "/p2p/" + b.PeerID(t)
	var out struct{ Strings []string }
	a.rpc(t, "swarm/connect", []string{addr}, &out)
}

func (d *Daemon) rpc(t testing.TB, cmd string, args []string, res any) {
	t.Helper()
	u := d.URL + "/api/v0/" + cmd
	for i, a := range args {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "arg=" + a
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, nil)
	if err != nil {
		t.Fatalf("kubotest: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("kubotest: %s: %v", cmd, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("kubotest: %s: %s: %s", cmd, resp.Status, lastLine(string(body)))
	}
	if err := json.Unmarshal(body, res); err != nil {
		t.Fatalf("kubotest: %s: decoding %q: %v", cmd, lastLine(string(body)), err)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		// The last line of a daemon's or command's output says why it stopped.
		s = s[i+1:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
