package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
)

// TestEntriesBytes checks the arithmetic that recovers the summed
// EntrySize of a block's entries from the block's length, across every
// length of the entries array head that a block can have.
func TestEntriesBytes(t *testing.T) {
	ctx := context.Background()
	st := ipfsstore.NewMemory()
	defer st.Close()
	tr := New(st, Config{})
	for _, n := range []int{1, 23, 24, 255, 256, 3000} {
		entries := make([]schema.Entry, n)
		want := uint64(0)
		for i := range entries {
			name := fmt.Sprintf("%05d", i)
			entries[i] = schema.Entry{Name: name, Kind: schema.KindFile, Target: schema.Sum([]byte(name)),
				Mtime: int64(i), VV: schema.VV{"r": uint64(i)}}
			want += uint64(schema.EntrySize(&entries[i]))
		}
		dir := &schema.Directory{Owner: schema.Sum([]byte("o")), Seq: 9, Entries: entries, Sig: make([]byte, schema.SigSize)}
		c, err := tr.putNode(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := tr.readDirectory(ctx, c); err != nil || got != want {
			t.Errorf("readDirectory(%d entries) total = %d, %v; want %d", n, got, err, want)
		}
		c, err = tr.putNode(ctx, &schema.Shard{Depth: 0, Entries: entries})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tr.readShard(ctx, c, 0, nil, 0, false); err != nil || got.total != want {
			t.Errorf("readShard(%d entries) total = %v, %v; want %d", n, got, err, want)
		}
	}
}
