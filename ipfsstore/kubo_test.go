package ipfsstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// kuboAPI returns $AC_TEST_KUBO_API, or starts a daemon for t.
func kuboAPI(t *testing.T) string {
	t.Helper()
	if api := os.Getenv("AC_TEST_KUBO_API"); api != "" {
		return api
	}
	return kubotest.Start(t)
}

func openKubo(t *testing.T, api string) *ipfsstore.Kubo {
	t.Helper()
	k, err := ipfsstore.OpenKubo(t.Context(), ipfsstore.Config{API: api, FetchTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestKubo(t *testing.T) {
	api := kuboAPI(t)
	storetest.Run(t, func(t *testing.T) ipfsstore.Store {
		s, err := ipfsstore.Open(t.Context(), ipfsstore.Config{API: api, FetchTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*ipfsstore.Kubo); !ok {
			t.Fatalf("Open with API = %T, want *ipfsstore.Kubo", s)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestSameCIDsAsKubo imports the same bytes through the embedded store,
// through the kubo store (the daemon's add over RPC) and through the
// daemon's own command line, and checks that all three agree and that
// `ipfs cat` gives the bytes back.
func TestSameCIDsAsKubo(t *testing.T) {
	d := kubotest.StartDaemon(t)
	k := openKubo(t, d.API)
	e, err := ipfsstore.OpenEmbedded(t.Context(), ipfsstore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	const c = ipfsstore.ChunkSize
	sizes := []int{0, 1, 1000, c - 1, c, c + 1, 174 * c, 174*c + 1, 3<<20 + 17, 45 << 20}
	for i, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := t.Context()
			data := storetest.SeededBytes(uint64(500+i), n)
			ce, ne, err := e.AddFile(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			ck, nk, err := k.AddFile(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			cli := strings.TrimSpace(string(d.Run(t, bytes.NewReader(data), "add", "--cid-version=1", "-Q")))
			if ce.String() != cli || ck.String() != cli {
				t.Fatalf("CIDs differ: embedded %s, kubo RPC %s, ipfs add %s", ce, ck, cli)
			}
			if ne != uint64(n) || nk != uint64(n) {
				t.Errorf("sizes = %d (embedded), %d (kubo); want %d", ne, nk, n)
			}
			if got := d.Run(t, nil, "cat", ck.String()); !bytes.Equal(got, data) {
				t.Fatalf("ipfs cat %s = %d bytes, not the %d added", ck, len(got), n)
			}
		})
	}
}

func TestKuboFetchFromPeer(t *testing.T) {
	a, b := kubotest.StartPair(t)
	ka, kb := openKubo(t, a.API), openKubo(t, b.API)
	ctx := t.Context()
	data := []byte(fmt.Sprintf("only on b, %d", time.Now().UnixNano()))
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	if err := kb.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	if ok, err := ka.Has(ctx, c); err != nil || ok {
		t.Fatalf("a.Has before fetch = %v, %v; want false, nil", ok, err)
	}
	ka2, err := ipfsstore.OpenKubo(ctx, ipfsstore.Config{API: a.API, FetchTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ka2.Close()
	got, err := ka2.Get(ctx, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a.Get(block held by b) = %q, %v", got, err)
	}
	if ok, err := ka.Has(ctx, c); err != nil || !ok {
		t.Fatalf("a.Has after fetch = %v, %v; want true, nil", ok, err)
	}
}

// TestKuboReadAtCancel checks that a ReadAt of a block nobody has waits
// for bitswap until its context is cancelled, and then stops at once.
func TestKuboReadAtCancel(t *testing.T) {
	k := openKubo(t, kuboAPI(t))
	storetest.CancelWaitingRead(t, k)
}

// TestKuboDown checks that a daemon that is not there gives one-line I/O
// errors that name the API address.
func TestKuboDown(t *testing.T) {
	ctx := t.Context()
	check := func(what string, err error, api string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s with the daemon down = nil error", what)
		}
		if !acerr.Is(acerr.IO, err) {
			t.Errorf("%s: kind %q, want %q (%v)", what, acerr.KindOf(err), acerr.IO, err)
		}
		msg := err.Error()
		t.Logf("%s: %s", what, msg)
		if strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, api) {
			t.Errorf("%s: error %q is not one line naming %s", what, msg, api)
		}
	}

	// Nothing listens on a port that was just freed.
	d := kubotest.StartDaemon(t)
	k := openKubo(t, d.API)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err := ipfsstore.Open(ctx, ipfsstore.Config{API: d.API})
	check("Open", err, d.API)
	_, err = ipfsstore.Open(ctx, ipfsstore.Config{API: d.URL})
	check("Open(URL)", err, d.URL)

	data := []byte("x")
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	_, err = k.Get(ctx, c)
	check("Get", err, d.API)
	_, err = k.Has(ctx, c)
	check("Has", err, d.API)
	check("Put", k.Put(ctx, c, data), d.API)
	_, _, err = k.AddFile(ctx, bytes.NewReader(data))
	check("AddFile", err, d.API)
}

func TestKuboBadAddress(t *testing.T) {
	for _, api := range []string{"localhost:5001", "/ip4/127.0.0.1/udp/x", "http://"} {
		_, err := ipfsstore.Open(t.Context(), ipfsstore.Config{API: api})
		if !acerr.Is(acerr.Invalid, err) {
			t.Errorf("Open(API %q) = %v, want kind %q", api, err, acerr.Invalid)
		}
	}
}

func TestKuboURL(t *testing.T) {
	d := kubotest.StartDaemon(t)
	k := openKubo(t, d.URL)
	data := []byte("through the URL form")
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	if err := k.Put(t.Context(), c, data); err != nil {
		t.Fatal(err)
	}
	if got := d.Run(t, nil, "block", "get", c.String()); !bytes.Equal(got, data) {
		t.Fatalf("ipfs block get = %q, want %q", got, data)
	}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
