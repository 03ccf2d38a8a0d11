package localfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
)

// ImportConfig says how Import works. Zero values are usable.
type ImportConfig struct {
	// Workers is how many files are imported at a time. Zero or less:
	// two per CPU.
	Workers int
	// Progress, if not nil, counts the files and bytes imported, those
	// of a large file as they are read; with Totals, also their totals,
	// which a walk beside the import counts (stating every file a second
	// time: only for a meter that shows them).
	Progress *progress.Counter
	Totals   bool
	// Skipped, if not nil, is told of each name under SRC that is not
	// imported (a symbolic link, a special file, a name no entry may
	// have) and why. Nil skips in silence.
	Skipped func(path, why string)
	// Fold, if not nil, is given each directory once what it holds is
	// imported, and returns what stands for it from then on (tree.Fold
	// makes it whole in the tree, and drops its children): so the import
	// holds the directories being imported, not the whole of SRC.
	Fold func(ctx context.Context, dir *tree.Source) (*tree.Source, error)
}

// Import imports the local file or directory at src into store, every
// file as a UnixFS file (the CIDs "ipfs add --cid-version=1" gives), and
// returns what src is, with modes and modification times, for
// tree.PutTree. Files are imported while the scan goes on finding more.
func Import(ctx context.Context, store ipfsstore.Store, src string, cfg ImportConfig) (*tree.Source, error) {
	im := &importer{store: store, workers: cfg.Workers, progress: cfg.Progress, skipped: cfg.Skipped, fold: cfg.Fold}
	if im.workers <= 0 {
		im.workers = 2 * runtime.GOMAXPROCS(0)
	}
	if im.skipped == nil {
		im.skipped = func(string, string) {}
	}
	if cfg.Progress == nil || !cfg.Totals {
		return im.importPath(ctx, src)
	}
	// The walk that counts the totals goes on beside the import and is
	// waited for (it is the cheaper of the two), or stopped if the
	// import fails.
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { countTree(cctx, src, cfg.Progress) })
	s, err := im.importPath(ctx, src)
	if err != nil {
		cancel()
	}
	wg.Wait()
	cancel()
	return s, err
}

// countTree counts into c, as totals, the files Import imports from src
// and their sizes, and says when it is done. It stops quietly when ctx
// is done or a directory cannot be read: the import reports that.
func countTree(ctx context.Context, src string, c *progress.Counter) {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return fs.SkipAll
		}
		if p != src && schema.ValidName(d.Name()) != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				c.AddTotal(1, info.Size())
			}
		}
		return nil
	})
	if err == nil && ctx.Err() == nil {
		c.Final()
	}
}

type importer struct {
	store    ipfsstore.Store
	workers  int
	progress *progress.Counter
	skipped  func(path, why string)
	fold     func(ctx context.Context, dir *tree.Source) (*tree.Source, error)

	failOnce sync.Once
	err      error // the first failure of a file or a fold
	cancel   context.CancelFunc
}

// fsNode is one file or directory found under SRC.
type fsNode struct {
	path     string
	entry    schema.Entry // its name, mode and mtime; a file's CID and size once imported
	parent   *fsNode
	children []*fsNode
	// pending counts a directory's children not yet done, and one more
	// while its scan goes on; the last to finish folds it.
	pending atomic.Int64
	folded  *tree.Source // a directory, once folded
}

// source returns what n is, for tree.PutTree.
func (n *fsNode) source() *tree.Source {
	if n.folded != nil {
		return n.folded
	}
	s := &tree.Source{Entry: n.entry}
	for _, c := range n.children {
		s.Children = append(s.Children, c.source())
	}
	return s
}

// fail records the first failure and stops the import.
func (im *importer) fail(err error) {
	im.failOnce.Do(func() { im.err = err; im.cancel() })
}

// childDone is called when a child of d (or, once, d's own scan) is
// done; the last folds d and tells d's parent.
func (im *importer) childDone(ctx context.Context, d *fsNode) {
	for ; d != nil; d = d.parent {
		if d.pending.Add(-1) != 0 {
			return
		}
		if im.fold != nil && ctx.Err() == nil {
			f, err := im.fold(ctx, d.source())
			if err != nil {
				im.fail(err)
				return
			}
			d.folded, d.children = f, nil
		}
	}
}

// importPath imports the files under src into the store and returns what
// src is, for tree.PutTree.
func (im *importer) importPath(ctx context.Context, src string) (*tree.Source, error) {
	info, err := os.Lstat(src)
	if err != nil {
		return nil, acerr.E("add", src, acerr.NotExist, err)
	}
	if !info.IsDir() && !info.Mode().IsRegular() {
		return nil, acerr.E("add", src, acerr.Invalid, errors.New("not a regular file or directory"))
	}
	ctx, im.cancel = context.WithCancel(ctx)
	defer im.cancel()
	top := &fsNode{path: src, entry: fileEntry(src, info)}
	// Files are imported while the scan goes on finding more.
	files := make(chan *fsNode, 4*im.workers)
	var wg sync.WaitGroup
	wg.Go(func() { im.importFiles(ctx, files) })
	if info.IsDir() {
		top.pending.Add(1)
		if err := im.scan(ctx, top, files); err != nil {
			im.fail(err)
		}
	} else {
		files <- top
	}
	close(files)
	wg.Wait()
	if im.err == nil && ctx.Err() != nil {
		im.err = ctx.Err()
	}
	if im.err != nil {
		return nil, im.err
	}
	return top.source(), nil
}

// fileEntry is the entry of the file or directory at p as info shows it:
// its name, kind, mode and mtime.
func fileEntry(p string, info fs.FileInfo) schema.Entry {
	kind := schema.KindFile
	if info.IsDir() {
		kind = schema.KindDirectory
	}
	return schema.Entry{
		Name:  filepath.Base(p),
		Kind:  kind,
		Mode:  uint32(info.Mode().Perm()),
		Mtime: info.ModTime().UnixNano(),
	}
}

// scan finds the files and directories under d, whose pending count
// holds one for the scan. It sends the files to files as it finds them
// and scans the directories in turn, depth first; d is done when its
// scan and all it holds are.
func (im *importer) scan(ctx context.Context, d *fsNode, files chan<- *fsNode) error {
	defer im.childDone(ctx, d)
	des, err := os.ReadDir(d.path)
	if err != nil {
		return acerr.E("add", d.path, acerr.IO, err)
	}
	for _, de := range des {
		p := filepath.Join(d.path, de.Name())
		if err := schema.ValidName(de.Name()); err != nil {
			im.skipped(p, err.Error())
			continue
		}
		info, err := de.Info()
		if err != nil {
			return acerr.E("add", p, acerr.IO, err)
		}
		n := &fsNode{path: p, entry: fileEntry(p, info), parent: d}
		switch {
		case info.IsDir():
			d.children = append(d.children, n)
			d.pending.Add(1)
			n.pending.Add(1)
			if err := im.scan(ctx, n, files); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			d.children = append(d.children, n)
			d.pending.Add(1)
			select {
			case files <- n:
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			im.skipped(p, "not a regular file or directory")
		}
	}
	return nil
}

// importFiles imports the files it receives until files is closed, with
// im.workers goroutines. After a failure it only drains files.
func (im *importer) importFiles(ctx context.Context, files <-chan *fsNode) {
	var wg sync.WaitGroup
	for range im.workers {
		wg.Go(func() {
			for n := range files {
				if ctx.Err() != nil {
					continue
				}
				if err := im.importFile(ctx, n); err != nil {
					im.fail(err)
					continue
				}
				im.childDone(ctx, n.parent)
			}
		})
	}
	wg.Wait()
}

func (im *importer) importFile(ctx context.Context, n *fsNode) error {
	f, err := openFile(n.path)
	if err != nil {
		return acerr.E("add", n.path, FSKind(err), err)
	}
	defer f.Close()
	// A file counts its bytes as they are read, so progress moves
	// inside a large one.
	c, size, err := im.store.AddFile(ctx, progress.Reader(f, im.progress))
	if err != nil {
		return acerr.E("add", n.path, acerr.Other, err)
	}
	n.entry.Target, n.entry.Size = c, size
	im.progress.Add(1, 0)
	return nil
}
