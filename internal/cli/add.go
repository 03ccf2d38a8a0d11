package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdAdd() *command {
	return &command{
		usage: "ac-add SRC DEST",
		help: `Ac-add imports the local file or directory SRC into the tree database
at DEST, a path under root/ (for example root/projects/pictures). Files
become UnixFS files with the CIDs "ipfs add --cid-version=1" gives;
modes and modification times are kept. A directory added where one is
(or was, before a deletion) changes it as the file-by-file changes
would: a file that differs becomes a new version of it, one that does
not keeps its entry, and what SRC no longer holds is deleted, so that
friends who merge get exactly those changes; conflict copies SRC never
held stay. Adding an unchanged directory again changes nothing. A file
replaces a file; a different kind at DEST must be deleted first (the
old version stays reachable through ac-log). Symbolic links and special
files are skipped with a warning. Progress goes to stderr when it is a
terminal.

example:
  ac-add ~/Pictures root/projects/pictures`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			jobs := fs.Int("j", 0, "import `n` files at a time (default: 2 per CPU)")
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 2, 2); err != nil {
					return err
				}
				dest, err := treePath(args[1])
				if err != nil {
					return err
				}
				if !strings.HasPrefix(dest, home.Root+"/") {
					return usagef("%s: DEST must be a path under root/, such as root/projects/NAME", args[1])
				}
				h, err := e.open(ctx)
				if err != nil {
					return err
				}
				defer h.Close()
				im := &importer{h: h, t: h.Tree(cid.Undef), env: e, workers: *jobs}
				if im.workers <= 0 {
					im.workers = 2 * runtime.GOMAXPROCS(0)
				}
				stop := im.showProgress()
				src, err := im.importPath(ctx, args[0])
				stop()
				if err != nil {
					return err
				}
				head, err := h.Update(ctx, e.Name+" "+dest, func(old cid.Cid) (cid.Cid, error) {
					return im.t.PutTree(ctx, old, dest, src, true)
				})
				if err != nil {
					return err
				}
				ent, err := im.t.Lookup(ctx, head, dest)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "%s %s (%d files, %d bytes)\n", ent.Target, quote(dest), im.files.Load(), im.bytes.Load())
				return nil
			}
		},
	}
}

type importer struct {
	h       *home.Home
	t       *tree.Tree
	env     *Env
	workers int

	files, bytes atomic.Int64
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
		VV:     schema.VV{im.h.Config.Replica: 1},
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
			fmt.Fprintf(im.env.Stderr, "%s: skipping %s: %s\n", im.env.Name, quote(p), oneLine(err.Error()))
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
			fmt.Fprintf(im.env.Stderr, "%s: skipping %s: not a regular file or directory\n", im.env.Name, quote(p))
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
		return acerr.E("add", n.path, acerr.KindOf(fsKind(err)), err)
	}
	defer f.Close()
	c, size, err := im.h.Store.AddFile(ctx, f)
	if err != nil {
		return acerr.E("add", n.path, acerr.Other, err)
	}
	n.entry = im.entry(n, schema.KindFile, c, size)
	im.files.Add(1)
	im.bytes.Add(int64(size))
	return nil
}

// showProgress prints counts to stderr while importing, if it is a
// terminal, and returns the function that stops it.
func (im *importer) showProgress() func() {
	if !im.env.interactive() {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(im.env.Stderr, "\r%s: %d files, %.1f MB\n", im.env.Name, im.files.Load(), float64(im.bytes.Load())/1e6)
				return
			case <-tick.C:
				fmt.Fprintf(im.env.Stderr, "\r%s: %d files, %.1f MB", im.env.Name, im.files.Load(), float64(im.bytes.Load())/1e6)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
