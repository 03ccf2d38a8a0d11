package kuborpc_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/kuborpc"
	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func newClient(t *testing.T, addr string) *kuborpc.Client {
	t.Helper()
	c, err := kuborpc.New(addr)
	if err != nil {
		t.Fatalf("New(%q) = %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

func sum(t *testing.T, codec uint64, data []byte) cid.Cid {
	t.Helper()
	c, err := cid.V1Builder{Codec: codec, MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fresh(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// wantKind fails unless err is a one-line *acerr.Error of kind k that
// names addr (if not empty).
func wantKind(t *testing.T, what string, err error, k acerr.Kind, addr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: err = nil, want kind %q", what, k)
	}
	if !acerr.Is(k, err) {
		t.Fatalf("%s: err = %v (kind %q), want kind %q", what, err, acerr.KindOf(err), k)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("%s: error is not one line: %q", what, msg)
	}
	if addr != "" && !strings.Contains(msg, addr) {
		t.Errorf("%s: error %q does not name %s", what, msg, addr)
	}
}

var goodAddrs = []string{
	"/ip4/127.0.0.1/tcp/5001",
	"/ip4/127.0.0.1/tcp/5001/http",
	"/ip6/::1/tcp/5001",
	"/dns/localhost/tcp/5001",
	"/dns4/example.com/tcp/5001/https",
	"/dns6/example.com/tcp/5001",
	"/unix/tmp/ipfs.sock",
	"http://127.0.0.1:5001",
	"http://127.0.0.1:5001/",
	"https://ipfs.example.com",
}

var badAddrs = []string{
	"",
	"localhost:5001",
	"/",
	"/ip4/127.0.0.1",
	"/ip4/127.0.0.1/udp/5001",
	"/ip4/127.0.0.1/tcp/x",
	"/ip4/127.0.0.1/tcp/0",
	"/ip4/127.0.0.1/tcp/70000",
	"/ip4/::1/tcp/5001",
	"/ip6/127.0.0.1/tcp/5001",
	"/ip4/300.0.0.1/tcp/5001",
	"/dns/a:b/tcp/5001",
	"/ip4/127.0.0.1/tcp/5001/ws",
	"/p2p/QmFoo",
	"/unix",
	"/unix/",
	"http://",
	"http://127.0.0.1:5001/api/v0",
	"ftp://127.0.0.1",
}

func TestNewAddresses(t *testing.T) {
	for _, a := range goodAddrs {
		c, err := kuborpc.New(a)
		if err != nil {
			t.Errorf("New(%q) = %v", a, err)
			continue
		}
		if c.Addr() != a {
			t.Errorf("New(%q).Addr() = %q", a, c.Addr())
		}
		c.Close()
	}
	for _, a := range badAddrs {
		_, err := kuborpc.New(a)
		if !acerr.Is(acerr.Invalid, err) {
			t.Errorf("New(%q) = %v, want kind %q", a, err, acerr.Invalid)
		}
	}
}

func TestBlocks(t *testing.T) {
	d := kubotest.StartDaemon(t)
	c := newClient(t, d.API)
	ctx := t.Context()

	if v, err := c.Version(ctx); err != nil || v == "" {
		t.Fatalf("Version = %q, %v", v, err)
	}

	data := fresh(t, 1000)
	k := sum(t, cid.Raw, data)
	if _, err := c.BlockStat(ctx, k, true); !acerr.Is(acerr.NotExist, err) {
		t.Fatalf("BlockStat(missing, offline) = %v, want NotExist", err)
	}
	start := time.Now()
	_, err := c.BlockGet(ctx, k, true)
	wantKind(t, "BlockGet(missing, offline)", err, acerr.NotExist, d.API)
	if time.Since(start) > 5*time.Second {
		t.Errorf("BlockGet(missing, offline) took %v", time.Since(start))
	}

	pb := []byte{0x0a, 0x02, 0x08, 0x01}
	v0, _ := cid.V0Builder{}.Sum(pb)
	cbor := append([]byte{0xa1, 0x61, 0x6e, 0x58, 0x10}, fresh(t, 16)...)
	for _, b := range []struct {
		name string
		k    cid.Cid
		data []byte
	}{
		{"raw", k, data},
		{"dag-pb", sum(t, cid.DagProtobuf, pb), pb},
		{"dag-pb-v0", v0, pb},
		{"dag-cbor", sum(t, cid.DagCBOR, cbor), cbor},
		{"empty", sum(t, cid.Raw, nil), nil},
	} {
		if err := c.BlockPut(ctx, b.k, b.data); err != nil {
			t.Fatalf("%s: BlockPut = %v", b.name, err)
		}
		got, err := c.BlockGet(ctx, b.k, true)
		if err != nil || !bytes.Equal(got, b.data) {
			t.Fatalf("%s: BlockGet = %x, %v; want %x", b.name, got, err, b.data)
		}
		if n, err := c.BlockStat(ctx, b.k, true); err != nil || n != len(b.data) {
			t.Fatalf("%s: BlockStat = %d, %v; want %d", b.name, n, err, len(b.data))
		}
	}
	if out := d.Run(t, nil, "block", "get", k.String()); !bytes.Equal(out, data) {
		t.Fatal("ipfs block get gives other bytes than were put")
	}

	// Bytes that do not match the CID are filed by the daemon under their
	// own CID, which BlockPut reports.
	other := fresh(t, 10)
	wantKind(t, "BlockPut(wrong bytes)", c.BlockPut(ctx, sum(t, cid.Raw, fresh(t, 10)), other), acerr.Integrity, d.API)

	wantKind(t, "BlockGet(undefined)", func() error { _, err := c.BlockGet(ctx, cid.Undef, true); return err }(), acerr.Invalid, "")
}

func TestAdd(t *testing.T) {
	d := kubotest.StartDaemon(t)
	c := newClient(t, d.URL)
	ctx := t.Context()
	const k = 256 << 10
	for i, n := range []int{0, 1, k, k + 1, 3<<20 + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := storetest.SeededBytes(uint64(700+i), n)
			root, size, err := c.Add(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if out := d.Run(t, nil, "pin", "ls", "--type=recursive", "--quiet"); strings.Contains(string(out), root.String()) {
				t.Fatalf("Add pinned %s", root)
			}
			want := strings.TrimSpace(string(d.Run(t, bytes.NewReader(data), "add", "--cid-version=1", "-Q")))
			if root.String() != want || size != uint64(n) {
				t.Fatalf("Add = %s, %d; ipfs add gives %s, %d", root, size, want, n)
			}
		})
	}
	root, _, err := c.Add(ctx, bytes.NewReader(storetest.SeededBytes(1, 3<<20+17)))
	if err != nil || root.String() != storetest.Seeded3MiBCID {
		t.Fatalf("Add(seeded 3 MiB) = %s, %v; want %s", root, err, storetest.Seeded3MiBCID)
	}

	errBroken := errors.New("source is broken")
	_, _, err = c.Add(ctx, io.MultiReader(bytes.NewReader(make([]byte, 600<<10)), errReader{errBroken}))
	if !errors.Is(err, errBroken) {
		t.Fatalf("Add(failing reader) = %v, want %v", err, errBroken)
	}
	// The client is still usable after a broken upload.
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestCat(t *testing.T) {
	d := kubotest.StartDaemon(t)
	c := newClient(t, d.API)
	ctx := t.Context()
	data := storetest.SeededBytes(3, 1<<20+99)
	root, _, err := c.Add(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ off, n int64 }{
		{0, -1}, {0, 10}, {5, 100}, {256 << 10, 300 << 10}, {int64(len(data)) - 3, -1}, {int64(len(data)) - 3, 10}, {int64(len(data)), -1},
	} {
		rc, err := c.Cat(ctx, root, tc.off, tc.n)
		if err != nil {
			t.Fatalf("Cat(%d, %d) = %v", tc.off, tc.n, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		end := int64(len(data))
		if tc.n >= 0 {
			end = min(end, tc.off+tc.n)
		}
		if err != nil || !bytes.Equal(got, data[tc.off:end]) {
			t.Fatalf("Cat(%d, %d) = %d bytes, %v; want %d", tc.off, tc.n, len(got), err, end-tc.off)
		}
	}
	// Not a file: the error comes from the daemon's JSON body.
	dir := []byte{0x0a, 0x02, 0x08, 0x01}
	dk := sum(t, cid.DagProtobuf, dir)
	if err := c.BlockPut(ctx, dk, dir); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Cat(ctx, dk, 0, -1)
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	wantKind(t, "Cat(directory)", err, acerr.IO, d.API)
	t.Logf("Cat(directory): %v", err)
}

func TestDaemonDown(t *testing.T) {
	d := kubotest.StartDaemon(t)
	c := newClient(t, d.API)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	k := sum(t, cid.Raw, []byte("x"))
	_, err := c.Version(ctx)
	wantKind(t, "Version", err, acerr.IO, d.API)
	t.Logf("daemon down: %v", err)
	_, err = c.BlockGet(ctx, k, false)
	wantKind(t, "BlockGet", err, acerr.IO, d.API)
	_, err = c.BlockStat(ctx, k, true)
	wantKind(t, "BlockStat", err, acerr.IO, d.API)
	wantKind(t, "BlockPut", c.BlockPut(ctx, k, []byte("x")), acerr.IO, d.API)
	_, _, err = c.Add(ctx, bytes.NewReader(make([]byte, 1<<20)))
	wantKind(t, "Add", err, acerr.IO, d.API)
	_, err = c.Cat(ctx, k, 0, -1)
	wantKind(t, "Cat", err, acerr.IO, d.API)
}

// fakeDaemon serves handler as a daemon's API and returns its URL.
func fakeDaemon(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(handler)
	t.Cleanup(s.Close)
	return s.URL
}

// TestErrorBodies checks, against a fake daemon, that every way kubo
// reports an error becomes one line of the right kind.
func TestErrorBodies(t *testing.T) {
	ctx := t.Context()
	data := []byte("the block")
	k := sum(t, cid.Raw, data)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		kind    acerr.Kind
		want    string // in the message
	}{
		{"json error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			io.WriteString(w, `{"Message":"first line\nsecond line","Code":0,"Type":"error"}`)
		}, acerr.IO, "first line; second line"},
		{"text error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(400)
			io.WriteString(w, "argument \"key\" is required\n")
		}, acerr.IO, `argument "key" is required`},
		{"not found", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"Message":"block was not found locally (offline): ipld: could not find %s","Code":0,"Type":"error"}`, k)
		}, acerr.NotExist, ""},
		{"stream error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Stream-Error")
			w.Write(data[:3])
			w.Header().Set("X-Stream-Error", "context deadline exceeded")
		}, acerr.IO, "context deadline exceeded"},
		{"wrong bytes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "not the block")
		}, acerr.Integrity, ""},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, schema.MaxForeignBlockSize+1))
		}, acerr.TooLarge, ""},
		{"no status body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
		}, acerr.IO, "503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeDaemon(t, tc.handler)
			c := newClient(t, addr)
			_, err := c.BlockGet(ctx, k, true)
			wantKind(t, "BlockGet", err, tc.kind, addr)
			var ae *acerr.Error
			if !errors.As(err, &ae) || ae.CID != k.String() {
				t.Errorf("error %v does not name %s", err, k)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}

	// A malformed answer to a JSON command.
	addr := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{") })
	_, err := newClient(t, addr).Version(ctx)
	wantKind(t, "Version(malformed)", err, acerr.IO, addr)
	// An answer past the limit is refused as such, not cut and misread.
	addr = fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"Version":"%s"}`, strings.Repeat("9", 1<<20))
	})
	_, err = newClient(t, addr).Version(ctx)
	wantKind(t, "Version(huge)", err, acerr.TooLarge, addr)
	// A daemon that files a block under another CID.
	addr = fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"Key":"%s","Size":3}`, sum(t, cid.Raw, []byte("abc")))
	})
	wantKind(t, "BlockPut(other CID)", newClient(t, addr).BlockPut(ctx, k, data), acerr.Integrity, addr)
}

// TestRequests checks what the client sends, against a fake daemon.
func TestRequests(t *testing.T) {
	ctx := t.Context()
	data := []byte("abc")
	k := sum(t, cid.DagCBOR, data)
	var got *http.Request
	var body []byte
	addr := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		if f, _, err := r.FormFile("file"); err == nil {
			body, _ = io.ReadAll(f)
		}
		switch r.URL.Path {
		case "/api/v0/block/put":
			fmt.Fprintf(w, `{"Key":"%s","Size":3}`, k)
		case "/api/v0/add":
			fmt.Fprintf(w, `{"Name":"file","Hash":"%s","Size":"3"}`, k)
		default:
			io.WriteString(w, "{}")
		}
	})
	c := newClient(t, addr)
	if err := c.BlockPut(ctx, k, data); err != nil {
		t.Fatal(err)
	}
	q := got.URL.Query()
	if got.Method != http.MethodPost || q.Get("cid-codec") != "dag-cbor" || q.Get("mhtype") != "sha2-256" || q.Get("mhlen") != "32" || q.Get("pin") != "false" || !bytes.Equal(body, data) {
		t.Errorf("block/put sent %s %s with body %q", got.Method, got.URL, body)
	}
	if _, n, err := c.Add(ctx, bytes.NewReader(data)); err != nil || n != 3 {
		t.Fatalf("Add = %d, %v", n, err)
	}
	q = got.URL.Query()
	for opt, want := range map[string]string{"cid-version": "1", "raw-leaves": "true", "chunker": "size-262144", "pin": "false", "quieter": "true", "max-file-links": "174", "hash": "sha2-256"} {
		if q.Get(opt) != want {
			t.Errorf("add sent %s=%q, want %q", opt, q.Get(opt), want)
		}
	}
	if !bytes.Equal(body, data) {
		t.Errorf("add uploaded %q, want %q", body, data)
	}
	if _, err := c.BlockStat(ctx, k, true); err != nil {
		t.Fatal(err)
	}
	if q := got.URL.Query(); q.Get("offline") != "true" || q.Get("arg") != k.String() {
		t.Errorf("block/stat sent %s", got.URL)
	}
}

// TestUnixSocket reaches a fake daemon over a unix socket.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets: %v", err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Version":"0.41.0"}`)
	})}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c := newClient(t, "/unix"+sock)
	if v, err := c.Version(t.Context()); err != nil || v != "0.41.0" {
		t.Fatalf("Version over %s = %q, %v", sock, v, err)
	}
}
