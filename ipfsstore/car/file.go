package car

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// File is a CAR file opened as a read-only ipfsstore.Store, to take
// blocks from (ac-verify --repair). Open reads the file once, checking
// every block as a Reader does, and keeps only where each block lies;
// Get reads a block with one read at its offset and hashes it again,
// since the file may have changed since.
type File struct {
	f     *os.File
	at    map[string]span // by multihash
	roots []cid.Cid
}

type span struct {
	off int64
	n   int
}

var _ ipfsstore.Store = (*File)(nil)

// errReadOnly is the cause of every write to a File.
var errReadOnly = errors.New("a CAR file opened to read from is read-only")

// Open opens the CAR file at path. A file that is not a whole, valid CAR
// is refused with the error a Reader gives, naming the path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, acerr.E(op, path, acerr.KindOf(fsKind(err)), err)
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, acerr.E(op, path, acerr.KindOf(err), err)
	}
	cf := &File{f: f, at: map[string]span{}, roots: r.Roots()}
	for {
		c, data, err := r.Next()
		if err == io.EOF {
			return cf, nil
		}
		if err != nil {
			f.Close()
			return nil, acerr.E(op, path, acerr.KindOf(err), err)
		}
		cf.at[string(c.Hash())] = span{off: r.off - int64(len(data)), n: len(data)}
	}
}

func fsKind(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return acerr.NotExist
	case errors.Is(err, os.ErrPermission):
		return acerr.Permission
	}
	return acerr.IO
}

// Roots returns the CIDs the file's header names.
func (cf *File) Roots() []cid.Cid { return append([]cid.Cid(nil), cf.roots...) }

// Get returns block c, read from the file and hash-checked.
func (cf *File) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	const op = "car.Get"
	if !c.Defined() {
		return nil, acerr.E(op, "", acerr.Invalid, errors.New("undefined CID"))
	}
	s, ok := cf.at[string(c.Hash())]
	if !ok {
		return nil, acerr.E(op, cf.f.Name(), acerr.NotExist, nil).WithCID(c.String())
	}
	data := make([]byte, s.n)
	if _, err := cf.f.ReadAt(data, s.off); err != nil {
		return nil, acerr.E(op, cf.f.Name(), acerr.IO, err).WithCID(c.String())
	}
	if !hashMatches(c, data) {
		return nil, acerr.E(op, cf.f.Name(), acerr.Integrity, errors.New("the block changed in the file since it was opened")).WithCID(c.String())
	}
	return data, nil
}

// Has reports whether the file holds block c.
func (cf *File) Has(_ context.Context, c cid.Cid) (bool, error) {
	_, ok := cf.at[string(c.Hash())]
	return ok, nil
}

// Put refuses: the file is read-only.
func (cf *File) Put(context.Context, cid.Cid, []byte) error {
	return acerr.E("car.Put", cf.f.Name(), acerr.Permission, errReadOnly)
}

// AddFile refuses: the file is read-only.
func (cf *File) AddFile(context.Context, io.Reader) (cid.Cid, uint64, error) {
	return cid.Undef, 0, acerr.E("car.AddFile", cf.f.Name(), acerr.Permission, errReadOnly)
}

// OpenFile opens the UnixFS file rooted at c, its blocks read from the
// CAR file.
func (cf *File) OpenFile(ctx context.Context, c cid.Cid) (ipfsstore.File, error) {
	return unixfs.Open(ctx, cf.Get, c)
}

// Close closes the file.
func (cf *File) Close() error { return cf.f.Close() }
