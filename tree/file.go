package tree

import (
	"context"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
)

// Open opens the file that entry e (of kind file_v1) links for reading.
// Its content must be as long as e says: a friend's entry can lie about
// the size, and whatever trusted either number would show or write what
// the other contradicts, so a mismatch fails with acerr.Integrity before
// anything is read. The reads check every block as they reach it.
func (t *Tree) Open(ctx context.Context, e schema.Entry) (ipfsstore.File, error) {
	const op = "tree.Open"
	if e.Kind != schema.KindFile {
		kind := acerr.Invalid
		if e.Kind == schema.KindDirectory {
			kind = acerr.IsDir
		}
		return nil, acerr.E(op, e.Name, kind, fail(kind, "%s is %s, not a file", e.Name, e.Kind.Noun())).WithCID(e.Target.String())
	}
	f, err := t.store.OpenFile(ctx, e.Target)
	if err != nil {
		return nil, err
	}
	if err := CheckSize(e, f.Size()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CheckSize fails with acerr.Integrity if size, what the content of e's
// file holds, is not what e says: for readers that take a file's bytes
// some other way than Open.
func CheckSize(e schema.Entry, size uint64) error {
	if size == e.Size {
		return nil
	}
	return acerr.E("tree.Open", e.Name, acerr.Integrity,
		fail(acerr.Integrity, "the content has %d bytes, the entry says %d", size, e.Size)).WithCID(e.Target.String())
}
