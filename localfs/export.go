package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

type dirTime struct {
	path  string
	mtime time.Time
}

// ExportConfig says how Export works. Zero values: one fetcher and one
// writer per CPU, no progress, a real export.
type ExportConfig struct {
	Fetchers int // files fetched (and checked) ahead at a time
	Writers  int // directories written at a time
	// Progress, if not nil, counts the files and bytes written (a file
	// kept counts as done, a large one moves as it is written) and, from
	// a walk beside the export, their totals.
	Progress *progress.Counter
	// DryRun writes nothing and reads no file's content: it finds which
	// files the export would write and which it would keep, and fails
	// where a file or directory stands in the way.
	DryRun bool
	// Done, if not nil, is told of each local file written (or, dry, to
	// be written), and of each kept because it already held the entry's
	// bytes. It is called from several goroutines at once.
	Done func(local string, kept bool)
}

// Export writes the entry at p (a file or directory) of the tree at root
// to the local path dest, byte-identical, with modification times: inside
// dest, under the entry's name, if dest is an existing directory (unless
// dest holds nothing but names of the directory p, which is taken for an
// earlier export of p cut short, and completed). Existing files are never
// overwritten: one that holds what the entry holds (the same size and
// CID) is kept and counts as written, so running an export again after
// it was interrupted completes it; one that holds anything else is an
// error, and stays as it was. Modes are kept as cp without -p
// keeps them: each entry's permission bits less the umask's; setuid,
// setgid and sticky bits are never set; directories keep their owner's
// rwx, so that the export can be read and removed. A file that could not
// be written whole is removed. Every block read is checked, and a file's
// length against its entry's (tree.Open). store is t's store.
func Export(ctx context.Context, t *tree.Tree, store ipfsstore.Store, root cid.Cid, p, dest string, cfg ExportConfig) error {
	n := runtime.GOMAXPROCS(0)
	if cfg.Fetchers <= 0 {
		cfg.Fetchers = n
	}
	if cfg.Writers <= 0 {
		cfg.Writers = n
	}
	if cfg.Done == nil {
		cfg.Done = func(string, bool) {}
	}
	return export(ctx, t, store, root, p, dest, cfg)
}

// export writes the entry at p under head to dest. Up to cfg.Fetchers
// goroutines fetch files (which the store checks) ahead of cfg.Writers
// goroutines, each of which creates the files of whole directories in walk
// order. Two writers never share a directory: ext4 creates the files of
// one directory one at a time. When ext4 is slow at creating files (for
// half a minute or more after many were deleted) its time goes to the
// CPU, and two writers on two cores take 40% off it; when it is fast
// they cost nothing over one.
func export(ctx context.Context, t *tree.Tree, store ipfsstore.Store, head cid.Cid, p, dest string, cfg ExportConfig) error {
	umask := processUmask() // before any goroutine creates a file
	ent, err := t.Lookup(ctx, head, p)
	if err != nil {
		return err
	}
	if cfg.Progress != nil {
		// The walk that counts the totals goes on beside the export,
		// which waits for it (it is the cheaper of the two).
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { t.CountFiles(cctx, head, p, ent, cfg.Progress) })
	}
	w := &fileWriter{umask: umask, canLink: namelessFiles(), cfg: cfg}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		name := ent.Name
		if p == "" {
			name = "archivecache"
		}
		into := filepath.Join(dest, name)
		if _, err := os.Lstat(into); err == nil || ent.Kind != schema.KindDirectory || !earlierExport(ctx, t, head, p, ent, dest) {
			dest = into
		}
	}
	switch ent.Kind {
	case schema.KindFile:
		return w.writeFile(ctx, t, p, dest, ent)
	case schema.KindDirectory:
	default:
		return acerr.E("get", p, acerr.Invalid, fmt.Errorf("is %s: only files and directories can be exported", ent.Kind))
	}
	if err := w.mkdir(dest); err != nil {
		return err
	}
	dirs := []dirTime{{dest, time.Unix(0, ent.Mtime)}}
	modes := map[string]os.FileMode{dest: dirMode(ent, umask)}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var x *exporter
	if !cfg.DryRun {
		x = newExporter(ctx, t, store, w)
	}
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	walkErr := t.Walk(ctx, head, p, func(path string, e schema.Entry) error {
		local := filepath.Join(dest, filepath.FromSlash(strings.TrimPrefix(path, prefix)))
		switch e.Kind {
		case schema.KindDirectory:
			if err := w.mkdir(local); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{local, time.Unix(0, e.Mtime)})
			modes[local] = dirMode(e, umask)
		case schema.KindFile:
			if x == nil {
				return w.write(local, e, nil, nil)
			}
			return x.add(path, local, e)
		}
		return nil
	})
	if x != nil {
		if err := x.finish(); err != nil {
			return err
		}
	}
	if walkErr != nil || cfg.DryRun {
		return walkErr
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

// earlierExport reports whether the local directory dir is an export of
// the directory p (entry e), cut short or whole: it holds something, and
// nothing but names that p holds, each of the same kind, and it is marked
// as an export leaves it: the owner-only mode a directory has while its
// export goes on (its own mode comes last), or, once done, e's mtime. A
// directory made by hand is neither, and gets the export inside it.
func earlierExport(ctx context.Context, t *tree.Tree, head cid.Cid, p string, e schema.Entry, dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 && fi.ModTime().UnixNano() != e.Mtime {
		return false
	}
	local, err := os.ReadDir(dir)
	if err != nil || len(local) == 0 {
		return false
	}
	ents, err := t.List(ctx, head, p)
	if err != nil {
		return false
	}
	isDir := make(map[string]bool, len(ents))
	for _, e := range ents {
		isDir[e.Name] = e.Kind == schema.KindDirectory
	}
	for _, l := range local {
		d, ok := isDir[l.Name()]
		if !ok || d != l.IsDir() {
			return false
		}
	}
	return true
}

// mkdirOrResume makes the directory path, or takes the one there, left by
// an export cut short (its mode and time are set at the end).
func mkdirOrResume(path string) error {
	err := os.Mkdir(path, 0o700)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Lstat(path); serr == nil && fi.IsDir() {
			if fi.Mode().Perm()&0o700 != 0o700 {
				return os.Chmod(path, fi.Mode().Perm()|0o700)
			}
			return nil
		}
	}
	return err
}

// sameFile reports whether the local file path holds what e holds: the
// same size, and bytes that make e's CID.
func sameFile(ctx context.Context, path string, e schema.Entry) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || uint64(fi.Size()) != e.Size {
		return false
	}
	c, _, err := unixfs.Import(ctx, f, func(context.Context, cid.Cid, []byte) error { return nil })
	return err == nil && c.Equals(e.Target)
}

// fileMode is the mode of the file ac-get writes for entry e: e's
// permission bits (0644 if it has none) less the umask's, as cp without
// -p would give. Setuid, setgid and sticky bits are dropped: whoever
// wrote the entry, they are not to be trusted with them.
func fileMode(e schema.Entry, umask os.FileMode) os.FileMode {
	m := os.FileMode(e.Mode) & os.ModePerm
	if e.Mode == 0 {
		m = 0o644
	}
	return m &^ umask
}

// dirMode is fileMode for a directory (0755 if it has no mode), which
// keeps the owner's rwx so that the export can be read and removed.
func dirMode(e schema.Entry, umask os.FileMode) os.FileMode {
	m := os.FileMode(e.Mode)&os.ModePerm | 0o700
	if e.Mode == 0 {
		m = 0o755
	}
	return m &^ umask
}

// parseUmask reads the umask from the text of /proc/self/status, whose
// line "Umask:\t0022" Linux shows since 4.7.
func parseUmask(status []byte) (os.FileMode, bool) {
	for line := range strings.Lines(string(status)) {
		v, ok := strings.CutPrefix(line, "Umask:")
		if !ok {
			continue
		}
		m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
		if err != nil || m > 0o777 {
			return 0, false
		}
		return os.FileMode(m), true
	}
	return 0, false
}

// FSKind is the acerr kind of an error of the local file system.
func FSKind(err error) acerr.Kind {
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

// fileWriter creates the local files and directories of an export, or,
// dry, finds what it would create.
type fileWriter struct {
	umask   os.FileMode // the process's, read once
	canLink bool        // createFile's: namelessFiles, asked once
	cfg     ExportConfig
}

// mkdir makes the local directory path, or takes the one there, left by
// an export cut short (mkdirOrResume); dry, it checks that nothing else
// stands there.
func (w *fileWriter) mkdir(path string) error {
	var err error
	if !w.cfg.DryRun {
		err = mkdirOrResume(path)
	} else if fi, lerr := os.Lstat(path); lerr == nil && !fi.IsDir() {
		err = syscall.EEXIST // as mkdir says it
	}
	if err != nil {
		return acerr.E("get", path, FSKind(err), err)
	}
	return nil
}

// writeFile exports the file entry e to the new local file dest.
func (w *fileWriter) writeFile(ctx context.Context, t *tree.Tree, p, dest string, e schema.Entry) error {
	if w.cfg.DryRun {
		return w.write(dest, e, nil, nil)
	}
	src, err := t.Open(ctx, e)
	if err != nil {
		return readError(p, dest, err)
	}
	defer src.Close()
	return w.write(dest, e, nil, src)
}

// write creates dest, which must not exist, with the bytes of data, or
// if data is nil those read from src, and gives it e's mtime and the
// mode fileMode gives. A file already there that holds e's bytes is kept;
// anything else there is an error. A file that could not be written
// whole is removed. Dry, it only finds which of these it would be.
func (w *fileWriter) write(dest string, e schema.Entry, data []byte, src io.Reader) error {
	var err error
	if w.cfg.DryRun {
		if _, err = os.Lstat(dest); err == nil {
			err = syscall.EEXIST // as the create would say it
		} else if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		if data == nil {
			src = progress.Reader(src, w.cfg.Progress)
		}
		err = createFile(dest, fileMode(e, w.umask), time.Unix(0, e.Mtime), data, src, w.canLink)
	}
	kept := false
	if errors.Is(err, fs.ErrExist) && sameFile(context.Background(), dest, e) {
		err, kept = nil, true // written by an earlier export, whole
	}
	if err == nil {
		if data == nil && !kept && !w.cfg.DryRun {
			w.cfg.Progress.Add(1, 0) // its bytes counted as they were written
		} else {
			w.cfg.Progress.Add(1, int64(e.Size))
		}
		w.cfg.Done(dest, kept)
		return nil
	}
	// A failure of the store reading src keeps its own kind.
	kind := acerr.Other
	if _, fromStore := errors.AsType[*acerr.Error](err); !fromStore {
		kind = FSKind(err)
	}
	return acerr.E("get", dest, kind, err)
}

// prefetchMax is the largest file an exporter reads whole into memory
// ahead of its writer: one chunk, which is stored as a single block.
// Larger files are opened ahead (their root block fetched and checked)
// and streamed by the writer, with the File's own read-ahead.
const prefetchMax = ipfsstore.ChunkSize

// Files go from the fetchers to the writer in batches, so that a tree of
// small files costs a hand-over between goroutines per batch rather than
// per file. A batch is closed at batchFiles files or batchBytes bytes, and
// at most exportWindow batches are between the fetchers and the writer,
// which bounds the memory held to about 16 MiB.
const (
	batchFiles   = 32
	batchBytes   = 2 << 20
	exportWindow = 8
)

// exportJob is one file on its way from the store to the local disk.
type exportJob struct {
	path string // in the tree
	dest string
	e    schema.Entry
	src  ipfsstore.File
	data []byte
	err  error
}

// exportBatch is files of one directory, fetched by one fetcher and then
// written in order by one writer.
type exportBatch struct {
	dir   string // the local directory of the files
	jobs  []exportJob
	bytes uint64
	done  chan struct{} // closed by the fetcher when every job is fetched
}

// An exporter writes files by writer goroutines, each taking whole
// directories and writing their files in the order they were added, while
// fetchers read (and the store checks) the next ones.
type exporter struct {
	ctx    context.Context
	cancel context.CancelFunc
	store  ipfsstore.Store
	tree   *tree.Tree
	w      *fileWriter
	cur    *exportBatch        // being filled by add
	last   string              // the directory of the last batch sent
	dirs   int                 // directories begun so far
	fetch  chan *exportBatch   // to the fetchers
	write  []chan *exportBatch // to each writer, in order
	fwg    sync.WaitGroup      // the fetchers
	wwg    sync.WaitGroup      // the writers
	errMu  sync.Mutex
	err    error // the first error
}

func newExporter(ctx context.Context, t *tree.Tree, store ipfsstore.Store, w *fileWriter) *exporter {
	ctx, cancel := context.WithCancel(ctx)
	fetchers, writers := w.cfg.Fetchers, max(w.cfg.Writers, 1)
	window := max(exportWindow/writers, 2)
	x := &exporter{
		ctx:    ctx,
		cancel: cancel,
		store:  store,
		tree:   t,
		w:      w,
		// Every batch in fetch is also in a write channel or being
		// written, so fetch never fills.
		fetch: make(chan *exportBatch, writers*window+1),
		write: make([]chan *exportBatch, writers),
	}
	for range max(fetchers, 1) {
		x.fwg.Go(x.fetcher)
	}
	for i := range x.write {
		x.write[i] = make(chan *exportBatch, window)
		x.wwg.Go(func() { x.writer(x.write[i]) })
	}
	return x
}

// add queues the file entry e for export to dest. It blocks while the
// window is full, and fails once the export has failed.
func (x *exporter) add(path, dest string, e schema.Entry) error {
	dir := filepath.Dir(dest)
	if x.cur != nil && x.cur.dir != dir {
		if err := x.send(); err != nil {
			return err
		}
	}
	if x.cur == nil {
		x.cur = &exportBatch{dir: dir, jobs: make([]exportJob, 0, batchFiles), done: make(chan struct{})}
	}
	b := x.cur
	b.jobs = append(b.jobs, exportJob{path: path, dest: dest, e: e})
	b.bytes += min(e.Size, prefetchMax)
	if len(b.jobs) < batchFiles && b.bytes < batchBytes {
		return nil
	}
	return x.send()
}

// send hands the batch being filled to a fetcher and to the writer of its
// directory. The directories are dealt out to the writers in turn, so
// that no two write in one directory at once: ext4 creates files in one
// directory one at a time.
func (x *exporter) send() error {
	b := x.cur
	x.cur = nil
	if x.last != b.dir {
		x.dirs++
		x.last = b.dir
	}
	select {
	case x.write[x.dirs%len(x.write)] <- b:
	case <-x.ctx.Done():
		return x.ctx.Err()
	}
	x.fetch <- b
	return nil
}

// finish waits for every queued file and returns the first error.
func (x *exporter) finish() error {
	if x.cur != nil {
		x.send()
	}
	for _, w := range x.write {
		close(w)
	}
	close(x.fetch)
	x.wwg.Wait()
	x.fwg.Wait()
	x.cancel()
	return x.err
}

// fail records err as the export's error if it is the first, and stops
// the export.
func (x *exporter) fail(err error) {
	x.errMu.Lock()
	defer x.errMu.Unlock()
	if x.err == nil {
		x.err = err
		x.cancel()
	}
}

// failed reports whether the export has failed.
func (x *exporter) failed() bool {
	x.errMu.Lock()
	defer x.errMu.Unlock()
	return x.err != nil
}

func (x *exporter) fetcher() {
	for b := range x.fetch {
		for i := range b.jobs {
			j := &b.jobs[i]
			if j.err = x.ctx.Err(); j.err == nil {
				j.err = x.fetchFile(j)
			}
			if j.err != nil {
				j.err = readError(j.path, j.dest, j.err)
			}
		}
		close(b.done)
	}
}

// fetchFile reads the file of j whole into j.data if it is small, and
// otherwise opens it as j.src for the writer to stream.
func (x *exporter) fetchFile(j *exportJob) error {
	if j.e.Target.Type() == cid.Raw {
		// A file of one chunk is a raw block, whose bytes are the file's.
		data, err := x.store.Get(x.ctx, j.e.Target)
		if err != nil {
			return err
		}
		if err := tree.CheckSize(j.e, uint64(len(data))); err != nil {
			return err
		}
		if data == nil {
			data = []byte{} // an empty file is still written from data
		}
		j.data = data
		return nil
	}
	src, err := x.tree.Open(x.ctx, j.e)
	if err != nil {
		return err
	}
	if src.Size() > prefetchMax {
		j.src = src
		return nil
	}
	defer src.Close()
	j.data = make([]byte, src.Size())
	_, err = io.ReadFull(src, j.data)
	return err
}

// readError is the error of reading the file at path in the tree, to be
// written to dest: it names dest, where the export stopped, but a block
// the store's peers did not send in time is the tree's, not the local
// disk's, and names path.
func readError(path, dest string, err error) error {
	var nr *ipfsstore.NotReceived
	if errors.As(err, &nr) {
		return acerr.E("get", path, acerr.Other, err)
	}
	return acerr.E("get", dest, acerr.Other, err)
}

// writer writes the batches it is given in order. After the first error
// of the export it only waits for, and closes, the rest.
func (x *exporter) writer(batches <-chan *exportBatch) {
	for b := range batches {
		<-b.done
		for i := range b.jobs {
			j := &b.jobs[i]
			err := j.err
			if err == nil && !x.failed() {
				err = x.w.write(j.dest, j.e, j.data, j.src)
			}
			if j.src != nil {
				j.src.Close()
			}
			if err != nil {
				x.fail(err)
			}
		}
	}
}
