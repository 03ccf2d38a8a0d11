package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/progress"
)

// defaultMaxImport is the default of ac-import --max-bytes: far beyond any
// archive a user exchanges by hand, and a stop for an endless stream.
const defaultMaxImport = 64 << 30

func cmdImport() *command {
	return &command{
		usage: "ac-import [--max-bytes N] [--json] < FILE.car",
		help: `Ac-import reads a CAR file on stdin (raw bytes, as ac-export or
"ipfs dag export" write it: CAR v1, or the CAR v1 inside a CAR v2, whose
index is not read), checks every block's bytes against its CID, stores
the blocks in the home's store, and prints the CAR's roots, one per line.
CIDv0 and CIDv1 of any codec are read, with sha2-256 or identity hashes
(inlined blocks, which are checked and need no storing).

It trusts nothing and changes nothing: HEAD, friends and nodes stay as
they are, and the blocks are only stored. Whether they are signed, and
by a friend, is checked when something uses them: ac-node add of a
reference to the node, or a merge. Importing the same CAR twice stores
nothing new, but for a block the store holds damaged: that one is
written again, which repairs it. It works on a damaged home too (one
that lost HEAD, its config or blocks), to bring back what ac-init
--repair needs.

Bad input is refused at the first bad section with a one-line error
naming the offset: truncation, a section over the 1 MiB block limit, a
block that does not hash to its CID, a hash function other than sha2-256
and identity (blake2b, sha2-512, ...), an identity hash over 128 bytes.
Blocks stored before it stay in the store, unreferenced. A
root that is neither in the CAR nor already in the store is an error.

While it reads, stderr shows, when it is a terminal, the bytes read and
the rate, and, when stdin is a file, of how many and the time left;
--json makes that a stream of JSON status lines on stderr (see ac-add
-h).

--max-bytes caps the input read (default 64G; suffixes K, M, G and T
count in KiB, MiB, GiB and TiB); longer input is refused.

example:
  ac-export node > alice.car       # alice
  ac-import < alice.car            # bob: prints the CID of alice's node`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			o := importOpts{maxBytes: byteSize(defaultMaxImport)}
			fs.Var(&o.maxBytes, "max-bytes", "refuse input longer than `N` bytes")
			fs.BoolVar(&o.asJSON, "json", false, "progress as JSON status lines on stderr")
			return func(ctx context.Context, args []string) error { return runImport(ctx, e, o, args) }
		},
	}
}

type importOpts struct {
	maxBytes byteSize
	asJSON   bool
}

func runImport(ctx context.Context, e *Env, o importOpts, args []string) error {
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	// Only the store: blocks can be brought back into a
	// damaged home, for ac-init --repair to use.
	st, err := home.OpenStore(ctx, home.Options{Dir: e.HomeDir, API: e.API, FetchTimeout: e.FetchTimeout})
	if err != nil {
		return err
	}
	defer st.Close()
	counts := &progress.Counter{}
	if f, ok := e.Stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			counts.AddTotal(0, fi.Size())
			counts.Final()
		}
	}
	m := e.startMeter(counts, o.asJSON)
	in := progress.Reader(&capReader{r: e.Stdin, left: int64(o.maxBytes), max: int64(o.maxBytes)}, counts)
	roots, err := home.Import(ctx, st, in)
	m.stop(err == nil)
	if err != nil {
		return err
	}
	for _, r := range roots {
		fmt.Fprintln(e.Stdout, r)
	}
	return nil
}

// capReader reads at most max bytes from r; there being more is an error
// of kind TooLarge.
type capReader struct {
	r         io.Reader
	left, max int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, acerr.E("reading stdin", "", acerr.TooLarge, fmt.Errorf("input is longer than --max-bytes %d", c.max))
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// byteSize is a flag value in bytes, with an optional binary suffix: K,
// M, G or T.
type byteSize int64

var sizeSuffixes = []struct {
	s     string
	shift uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

func (b *byteSize) String() string {
	n := int64(*b)
	for _, s := range sizeSuffixes {
		if n != 0 && n%(1<<s.shift) == 0 {
			return strconv.FormatInt(n>>s.shift, 10) + s.s
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(v string) error {
	num, shift := v, uint(0)
	for _, s := range sizeSuffixes {
		if t, ok := strings.CutSuffix(strings.ToUpper(v), s.s); ok {
			num, shift = t, s.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return errors.New("want a positive number of bytes, with an optional suffix K, M, G or T")
	}
	*b = byteSize(n << shift)
	return nil
}
