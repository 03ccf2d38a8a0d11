//go:build linux

package ipfsstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	flatfs "github.com/ipfs/go-ds-flatfs"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"golang.org/x/sys/unix"
)

// BenchmarkDatastores compares the pack store with the datastores kubo
// offers, on the same workloads, through the same UnixFS import path:
//
//   - pack: the embedded store (this package);
//   - pebble: go-ds-pebble behind boxo's blockstore (writes without sync,
//     one WAL sync at the end, then Close flushes the memtable);
//   - flatfs: go-ds-flatfs behind boxo's blockstore, one file per block,
//     each synced (kubo's default, sync=true);
//   - flatfs-nosync: the same without any sync (not durable: for scale).
//
// Each run imports into a fresh directory and is timed up to and including
// making the data durable and closing, after a sync(2) and a GC so that no
// run pays for the one before. Workloads: "large" is one 256 MiB file
// (seeded), "small" 10,000 files of 1 to 64 KiB (seeded). Filesystems: the
// disk (os.TempDir(), or /var/tmp if that is tmpfs) and tmpfs (/dev/shm).
//
// Run it three times, not with -count 3, so that the stores take turns and
// a change in the machine's load spreads over all of them:
//
//	go test -c -o ipfsstore.test ./ipfsstore
//	for i in 1 2 3; do ./ipfsstore.test -test.run '^$' -test.bench Datastores -test.benchtime 1x; done
func BenchmarkDatastores(b *testing.B) {
	disk := os.TempDir()
	if isTmpfs(disk) {
		disk = "/var/tmp"
	}
	filesystems := []struct{ name, dir string }{{"disk", disk}, {"tmpfs", "/dev/shm"}}
	// Made on first use, so that running only the large workload does not
	// pay for them.
	small := sync.OnceValues(func() ([][]byte, int64) { return smallFiles(10000) })
	const largeSize = 256 << 20
	workloads := []struct {
		name  string
		bytes func() int64
		run   func(ctx context.Context, s blockStore, im *unixfs.Importer) error
	}{
		{"large", func() int64 { return largeSize }, func(ctx context.Context, s blockStore, im *unixfs.Importer) error {
			_, _, err := addFile(ctx, s, seededReader(2, largeSize), im)
			return err
		}},
		{"small", func() int64 { _, n := small(); return n }, func(ctx context.Context, s blockStore, im *unixfs.Importer) error {
			files, _ := small()
			for _, f := range files {
				if _, _, err := addFile(ctx, s, bytes.NewReader(f), im); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	stores := []struct {
		name string
		open func(dir string) (blockStore, func() error, error)
	}{
		{"pack", func(dir string) (blockStore, func() error, error) {
			e, err := openEmbedded(context.Background(), dir, packRollSize)
			if err != nil {
				return nil, nil, err
			}
			return e, e.Close, nil
		}},
		{"pebble", func(dir string) (blockStore, func() error, error) {
			d, err := pebbleds.NewDatastore(dir)
			if err != nil {
				return nil, nil, err
			}
			return newDSStore(d), func() error {
				if err := d.Sync(context.Background(), datastore.NewKey("/")); err != nil {
					return err
				}
				return d.Close()
			}, nil
		}},
		{"flatfs", func(dir string) (blockStore, func() error, error) {
			d, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), true)
			if err != nil {
				return nil, nil, err
			}
			return newDSStoreNoPrefix(d), d.Close, nil
		}},
		{"flatfs-nosync", func(dir string) (blockStore, func() error, error) {
			d, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), false)
			if err != nil {
				return nil, nil, err
			}
			return newDSStoreNoPrefix(d), d.Close, nil
		}},
	}

	for _, w := range workloads {
		for _, fs := range filesystems {
			if st, err := os.Stat(fs.dir); err != nil || !st.IsDir() {
				continue
			}
			kind := "disk"
			if isTmpfs(fs.dir) {
				kind = "tmpfs"
			}
			if kind != fs.name {
				b.Logf("%s is %s, not %s: skipped", fs.dir, kind, fs.name)
				continue
			}
			for _, st := range stores {
				b.Run(fmt.Sprintf("work=%s/fs=%s/store=%s", w.name, fs.name, st.name), func(b *testing.B) {
					b.SetBytes(w.bytes())
					ctx := context.Background()
					im := new(unixfs.Importer)
					warmUp(b, fs.dir, st.open, im)
					for b.Loop() {
						b.StopTimer()
						dir := benchDir(b, fs.dir)
						// Start from a quiet machine: no writeback left over
						// from the run before, no garbage to collect.
						quiesce()
						b.StartTimer()
						s, closeStore, err := st.open(filepath.Join(dir, "store"))
						if err != nil {
							b.Fatal(err)
						}
						if err := w.run(ctx, s, im); err != nil {
							b.Fatal(err)
						}
						if err := closeStore(); err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						os.RemoveAll(dir)
						b.StartTimer()
					}
				})
			}
		}
	}
}

// warmUp imports 16 MiB into a throwaway store, so the timed runs do not
// pay for a cold heap and cold buffers.
func warmUp(b *testing.B, parent string, open func(string) (blockStore, func() error, error), im *unixfs.Importer) {
	b.Helper()
	dir := benchDir(b, parent)
	defer os.RemoveAll(dir)
	s, closeStore, err := open(filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := addFile(context.Background(), s, seededReader(9, 16<<20), im); err != nil {
		b.Fatal(err)
	}
	if err := closeStore(); err != nil {
		b.Fatal(err)
	}
}

func isTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// dsStore is a blockStore over a go-datastore through boxo's blockstore, as
// kubo uses one.
type dsStore struct {
	bs blockstore.Blockstore
}

func newDSStore(d datastore.Batching) *dsStore {
	return &dsStore{bs: blockstore.NewBlockstore(d)}
}

// newDSStoreNoPrefix is for flatfs, which takes the bare block keys (kubo
// mounts it at /blocks).
func newDSStoreNoPrefix(d datastore.Batching) *dsStore {
	return &dsStore{bs: blockstore.NewBlockstoreNoPrefix(d)}
}

func (s *dsStore) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	b, err := s.bs.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return b.RawData(), nil
}

func (s *dsStore) putBuilt(ctx context.Context, c cid.Cid, data []byte) error {
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return err
	}
	return s.bs.Put(ctx, blk)
}
