package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

func cmdGet() *command {
	return &command{
		usage: "ac-get PATH DEST",
		help: `Ac-get exports the file or directory at PATH to the local path DEST,
byte-identical, with modes and modification times. If DEST is an
existing directory the export goes inside it under PATH's name. Existing
files are never overwritten.

example:
  ac-get root/projects/pictures ./pictures`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			jobs := fs.Int("j", 0, "write `n` files at a time (default: 2 per CPU)")
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 2, 2); err != nil {
					return err
				}
				p, err := treePath(args[0])
				if err != nil {
					return err
				}
				h, head, err := openHead(ctx, e)
				if err != nil {
					return err
				}
				defer h.Close()
				workers := *jobs
				if workers <= 0 {
					workers = 2 * runtime.GOMAXPROCS(0)
				}
				return export(ctx, h, head, p, args[1], workers)
			}
		},
	}
}

type dirTime struct {
	path  string
	mtime time.Time
}

func export(ctx context.Context, h *home.Home, head cid.Cid, p, dest string, workers int) error {
	t := h.Tree(cid.Undef)
	ent, err := t.Lookup(ctx, head, p)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		name := ent.Name
		if p == "" {
			name = "archivecache"
		}
		dest = filepath.Join(dest, name)
	}
	switch ent.Kind {
	case schema.KindFile:
		return writeFile(ctx, h, dest, ent)
	case schema.KindDirectory:
	default:
		return acerr.E("get", p, acerr.Invalid, fmt.Errorf("is %s: only files and directories can be exported", ent.Kind))
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return acerr.E("get", dest, acerr.KindOf(fsKind(err)), err)
	}
	dirs := []dirTime{{dest, time.Unix(0, ent.Mtime)}}
	modes := map[string]os.FileMode{dest: dirMode(ent)}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		path string
		e    schema.Entry
	}
	work := make(chan job, workers)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := writeFile(ctx, h, j.path, j.e); err != nil {
					fail(err)
				}
			}
		}()
	}
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	walkErr := t.Walk(ctx, head, p, func(path string, e schema.Entry) error {
		local := filepath.Join(dest, filepath.FromSlash(strings.TrimPrefix(path, prefix)))
		switch e.Kind {
		case schema.KindDirectory:
			if err := os.Mkdir(local, 0o700); err != nil {
				return acerr.E("get", local, acerr.KindOf(fsKind(err)), err)
			}
			dirs = append(dirs, dirTime{local, time.Unix(0, e.Mtime)})
			modes[local] = dirMode(e)
		case schema.KindFile:
			select {
			case work <- job{local, e}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	close(work)
	wg.Wait()
	if walkErr != nil && firstErr == nil {
		firstErr = walkErr
	}
	if firstErr != nil {
		return firstErr
	}
	// Directory times and modes last, deepest first, so writing files
	// does not change them again.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := os.Chmod(d.path, modes[d.path]); err != nil {
			return acerr.E("get", d.path, acerr.IO, err)
		}
		if err := os.Chtimes(d.path, d.mtime, d.mtime); err != nil {
			return acerr.E("get", d.path, acerr.IO, err)
		}
	}
	return nil
}

func dirMode(e schema.Entry) os.FileMode {
	if e.Mode == 0 {
		return 0o755
	}
	return os.FileMode(e.Mode).Perm() | 0o700
}

func fsKind(err error) error {
	switch {
	case errors.Is(err, fs.ErrExist):
		return acerr.Exist
	case errors.Is(err, fs.ErrNotExist):
		return acerr.NotExist
	case errors.Is(err, fs.ErrPermission):
		return acerr.Permission
	}
	return acerr.IO
}

func writeFile(ctx context.Context, h *home.Home, dest string, e schema.Entry) error {
	src, err := h.Store.OpenFile(ctx, e.Target)
	if err != nil {
		return acerr.E("get", dest, acerr.Other, err)
	}
	defer src.Close()
	mode := os.FileMode(e.Mode).Perm()
	if e.Mode == 0 {
		mode = 0o644
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o200)
	if err != nil {
		return acerr.E("get", dest, acerr.KindOf(fsKind(err)), err)
	}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dest)
		return acerr.E("get", dest, acerr.Other, err)
	}
	// Chmod even when the mode was given to OpenFile, which the umask
	// may have narrowed.
	if err := os.Chmod(dest, mode); err != nil {
		return acerr.E("get", dest, acerr.IO, err)
	}
	mt := time.Unix(0, e.Mtime)
	if err := os.Chtimes(dest, mt, mt); err != nil {
		return acerr.E("get", dest, acerr.IO, err)
	}
	return nil
}
