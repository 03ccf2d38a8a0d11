package localfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// ImportConfig says how Import works. Zero values are usable.
type ImportConfig struct {
	// Workers is how many files are imported at a time. Zero or less:
	// two per CPU.
	Workers int
	// Progress, if not nil, counts the files and bytes imported, those
	// of a large file as they are read, and their totals, which a walk
	// beside the import counts.
	Progress *progress.Counter
	// Skipped, if not nil, is told of each name under SRC that is not
	// imported (a symbolic link, a special file, a name no entry may
	// have) and why. Nil skips in silence.
	Skipped func(path, why string)
}

// Import imports the local file or directory at src into store, every
// file as a UnixFS file (the CIDs "ipfs add --cid-version=1" gives), and
// returns what src is, with modes and modification times, for
// tree.PutTree. Files are imported while the scan goes on finding more.
func Import(ctx context.Context, store ipfsstore.Store, src string, cfg ImportConfig) (*tree.Source, error) {
	im := &importer{store: store, workers: cfg.Workers, progress: cfg.Progress, skipped: cfg.Skipped}
	if im.workers <= 0 {
		im.workers = 2 * runtime.GOMAXPROCS(0)
	}
	if im.skipped == nil {
		im.skipped = func(string, string) {}
	}
	if cfg.Progress == nil {
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
}

// fsNode is one file or directory found under SRC.
type fsNode struct {
	path     string
	info     fs.FileInfo
	children []*fsNode
	entry    schema.Entry
}

// source returns what n is, for tree.PutTree.
func (n *fsNode) source() *tree.Source {
	s := &tree.Source{Entry: n.entry}
	for _, c := range n.children {
		s.Children = append(s.Children, c.source())
	}
	return s
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
	top := &fsNode{path: src, info: info}
	var dirs []*fsNode // parents before children
	// Files are imported while the scan goes on finding more.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	files := make(chan *fsNode, 4*im.workers)
	imported := make(chan error, 1)
	go func() { imported <- im.importFiles(ctx, files) }()
	var scanErr error
	if info.IsDir() {
		scanErr = im.scan(ctx, top, files, &dirs)
	} else {
		files <- top
	}
	close(files)
	if scanErr != nil {
		cancel()
	}
	if err := <-imported; scanErr == nil {
		scanErr = err
	}
	if scanErr != nil {
		return nil, scanErr
	}
	for _, d := range dirs {
		d.entry = im.entry(d, schema.KindDirectory, cid.Undef, 0)
	}
	return top.source(), nil
}

func (im *importer) entry(n *fsNode, kind schema.Kind, c cid.Cid, size uint64) schema.Entry {
	return schema.Entry{
		Name:   filepath.Base(n.path),
		Kind:   kind,
		Target: c,
		Size:   size,
		Mode:   uint32(n.info.Mode().Perm()),
		Mtime:  n.info.ModTime().UnixNano(),
	}
}

// scan finds the files and directories under d. It sends the files to
// files as it finds them and appends the directories to dirs, parents
// before children.
func (im *importer) scan(ctx context.Context, d *fsNode, files chan<- *fsNode, dirs *[]*fsNode) error {
	*dirs = append(*dirs, d)
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
		n := &fsNode{path: p, info: info}
		switch {
		case info.IsDir():
			if err := im.scan(ctx, n, files, dirs); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			select {
			case files <- n:
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			im.skipped(p, "not a regular file or directory")
			continue
		}
		d.children = append(d.children, n)
	}
	return nil
}

// importFiles imports the files it receives until files is closed, with
// im.workers goroutines, and returns the first error. After an error it
// only drains files.
func (im *importer) importFiles(ctx context.Context, files <-chan *fsNode) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range im.workers {
		wg.Go(func() {
			for n := range files {
				if ctx.Err() != nil {
					continue
				}
				if err := im.importFile(ctx, n); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
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
	n.entry = im.entry(n, schema.KindFile, c, size)
	im.progress.Add(1, 0)
	return nil
}
