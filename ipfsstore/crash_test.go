package ipfsstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Child processes: the test binary re-executed with one of these variables
// set runs the matching child instead of the tests.
const (
	envCrashChild  = "AC_IPFSSTORE_CRASH_CHILD"  // store dir: Put and Sync until killed
	envCrashRoll   = "AC_IPFSSTORE_CRASH_ROLL"   // the crash child rolls its pack every so many blocks
	envWriterChild = "AC_IPFSSTORE_WRITER_CHILD" // store dir: write a set, then wait for the peer's
	envWriterID    = "AC_IPFSSTORE_WRITER_ID"
	envSealerChild = "AC_IPFSSTORE_SEALER_CHILD" // store dir: seal many small packs
	envSealLoop    = "AC_IPFSSTORE_SEAL_LOOP"    // store dir: seal small packs until killed
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashChild); dir != "" {
		os.Exit(crashChild(dir))
	}
	if dir := os.Getenv(envWriterChild); dir != "" {
		os.Exit(writerChild(dir, os.Getenv(envWriterID)))
	}
	if dir := os.Getenv(envSealerChild); dir != "" {
		os.Exit(sealerChild(dir, os.Getenv(envWriterID)))
	}
	if dir := os.Getenv(envSealLoop); dir != "" {
		os.Exit(sealLoopChild(dir, os.Getenv(envWriterID)))
	}
	if dir := os.Getenv(envGCChild); dir != "" {
		os.Exit(gcChild(dir))
	}
	if dir := os.Getenv(envHalfChild); dir != "" {
		os.Exit(halfChild(dir, os.Getenv(envHalfSeed)))
	}
	os.Exit(m.Run())
}

// crashChild puts blocks and files in a loop, syncing now and then and
// printing "synced CID" for every block made durable, until it is killed.
func crashChild(dir string) int {
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if n, _ := strconv.Atoi(os.Getenv(envCrashRoll)); n > 0 {
		e.rollBlocks = n
	}
	out := bufio.NewWriter(os.Stdout)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	var pending []cid.Cid
	for i := 0; ; i++ {
		n := 1 + r.IntN(300<<10)
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		if i%10 == 9 {
			c, _, err := e.AddFile(ctx, bytes.NewReader(data))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			pending = append(pending, c)
		} else {
			c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
			if err != nil {
				return 1
			}
			if err := e.Put(ctx, c, data); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			pending = append(pending, c)
		}
		if r.IntN(4) == 0 {
			if err := e.Sync(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			for _, c := range pending {
				fmt.Fprintln(out, "synced", c)
			}
			out.Flush()
			pending = pending[:0]
		}
	}
}

// TestCrashKill9 kills writing processes with SIGKILL at random moments and
// checks that the store still opens, that every block its index lists
// reads back with the right hash, and that every block a child had synced
// is there.
func TestCrashKill9(t *testing.T) { crashKill9(t, 0) }

// TestCrashKill9Rolled is TestCrashKill9 with children that roll their
// pack every 8 blocks, sealing it while they write: kills land before,
// during and after rolls.
func TestCrashKill9Rolled(t *testing.T) { crashKill9(t, 8) }

func crashKill9(t *testing.T, roll int) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(42, 43))
	var synced []cid.Cid
	const rounds = 6
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashChild+"="+dir, fmt.Sprintf("%s=%d", envCrashRoll, roll))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []cid.Cid
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				var s string
				if _, err := fmt.Sscanf(sc.Text(), "synced %s", &s); err != nil {
					continue
				}
				if c, err := cid.Decode(s); err == nil {
					mu.Lock()
					got = append(got, c)
					mu.Unlock()
				}
			}
		}()
		time.Sleep(time.Duration(100+r.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL, on the child we started
			t.Fatal(err)
		}
		<-done
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.Exited() {
			t.Fatalf("round %d: child ended with %v before it was killed: %s", round, err, stderr.String())
		}
		mu.Lock()
		synced = append(synced, got...)
		mu.Unlock()
		t.Logf("round %d: child synced %d blocks and files before SIGKILL", round, len(got))
	}

	e := mustOpen(t, dir)
	n, err := e.Check(t.Context())
	if err != nil {
		t.Fatalf("Check after %d kills: %d blocks good, then %v", rounds, n, err)
	}
	if len(synced) == 0 {
		t.Fatal("no child synced anything before being killed; the test proved nothing")
	}
	for _, c := range synced {
		if c.Type() == cid.DagProtobuf {
			f, err := e.OpenFile(t.Context(), c)
			if err != nil {
				t.Fatalf("synced file %s: %v", c, err)
			}
			if _, err := f.(io.WriterTo).WriteTo(discard{}); err != nil {
				t.Fatalf("reading synced file %s: %v", c, err)
			}
			f.Close()
			continue
		}
		if _, err := e.Get(t.Context(), c); err != nil {
			t.Fatalf("synced block %s: %v", c, err)
		}
	}
	t.Logf("%d blocks in the index verify; all %d synced blocks and files are there", n, len(synced))
	if roll > 0 && len(packFiles(t, dir, ".tbl"))+len(packFiles(t, dir, ".mtbl")) == 0 {
		t.Error("no child rolled a pack before being killed; the test proved nothing about rolls")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// writerChild writes its set of blocks (syncing as it goes), then waits
// until it finds every block of the other writer's set through Get, which
// rescans on a miss. It exits 0 when it has seen them all.
func writerChild(dir, id string) int {
	ctx := context.Background()
	me, _ := strconv.Atoi(id)
	e, err := OpenEmbedded(ctx, Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	mine, theirs := writerSet(me), writerSet(1-me)
	for i, b := range mine {
		if err := e.Put(ctx, b.c, b.data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if i%10 == 0 {
			if err := e.Sync(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	if err := e.Sync(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, b := range theirs {
		for {
			got, err := e.Get(ctx, b.c)
			if err == nil {
				if !bytes.Equal(got, b.data) {
					fmt.Fprintln(os.Stderr, "other bytes for", b.c)
					return 1
				}
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "never saw", b.c, err)
				return 1
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return 0
}

func writerSet(id int) []testBlock {
	return makeBlocksNoT(uint64(100+id), 150, 20000)
}

// TestTwoProcesses runs two processes that write to one store at the same
// time; each must see all of the other's blocks, and a third open sees both.
func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	runChildren(t, envWriterChild, dir, 2)
	e := mustOpen(t, dir)
	wantAll(t, e, append(writerSet(0), writerSet(1)...))
	if got := len(packFiles(t, dir, ".pack")); got != 2 {
		t.Errorf("two writing processes made %d packs, want 2", got)
	}
}

// runChildren runs n copies of this test binary at once, each told by
// the variable env to work on the store at dir (and by envWriterID which
// it is), waits for them all, and fails the test for each that failed.
func runChildren(t *testing.T, env, dir string, n int) {
	t.Helper()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for id := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), env+"="+dir, envWriterID+"="+strconv.Itoa(id))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d (%s): %v: %s", i, env, err, outs[i])
		}
	}
}

// makeBlocksNoT is makeBlocks for child processes, which have no testing.T.
func makeBlocksNoT(seed uint64, n, maxSize int) []testBlock {
	r := rand.New(rand.NewPCG(seed, seed+1))
	bs := make([]testBlock, n)
	for i := range bs {
		data := make([]byte, 1+r.IntN(maxSize))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
		bs[i] = testBlock{c, data}
	}
	return bs
}
