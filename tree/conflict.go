package tree

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// conflictMarker separates a name's stem from the rest of a conflict
// copy's name.
const conflictMarker = ".conflict-"

// shortIDLen is the length of the id in a conflict copy's name.
const shortIDLen = 7

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ConflictName returns the name under which v, a version of the entry
// named name kept among its Conflicts, is shown:
// NAME.conflict-<date>-<id>.EXT, with date v's Mtime in UTC as
// YYYYMMDD-HHMMSS, id the first 7 characters of the base32 sha2-256 of v's
// encoding, and EXT name's extension (a leading dot does not start one).
// The stem is shortened when the result would pass schema.MaxNameLen.
func ConflictName(name string, v *schema.Entry) string {
	ext := path.Ext(name)
	if ext == name || strings.HasPrefix(name, ".") && strings.Count(name, ".") == 1 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	sum := sha256.Sum256(schema.EncodeEntry(v))
	id := lowerBase32.EncodeToString(sum[:])[:shortIDLen]
	rest := conflictMarker + time.Unix(0, v.Mtime).UTC().Format("20060102-150405") + "-" + id + ext
	if over := len(stem) + len(rest) - schema.MaxNameLen; over > 0 {
		cut := len(stem) - over
		for cut > 0 && !utf8Start(stem[cut]) {
			cut--
		}
		stem = stem[:max(cut, 0)]
	}
	return stem + rest
}

func utf8Start(b byte) bool { return b&0xc0 != 0x80 }

// visible returns the entries of a directory as a listing shows them,
// sorted by name: each live entry under its name, and each live version
// among its Conflicts under its ConflictName. Tombstones are left out.
func visible(entries []schema.Entry) []schema.Entry {
	out := make([]schema.Entry, 0, len(entries))
	sorted := true
	for _, e := range entries {
		if e.Deleted {
			continue
		}
		bare := e
		bare.Conflicts = nil
		out = append(out, bare)
		for i := range e.Conflicts {
			if c := &e.Conflicts[i]; !c.Deleted {
				v := *c
				v.Name = ConflictName(e.Name, c)
				out = append(out, v)
				sorted = false
			}
		}
	}
	if !sorted {
		slices.SortFunc(out, func(a, b schema.Entry) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
}

// mayBeConflictName reports whether name has the form of a conflict
// copy's name.
func mayBeConflictName(name string) bool { return strings.Contains(name, conflictMarker) }

// conflictIn finds the live conflict version shown as name in the
// directory at dir: the entry it belongs to, and the version (with its
// stored name). ok is false if there is none; a stored entry of that
// name always comes first, so callers look that up before.
func (t *Tree) conflictIn(ctx context.Context, dir cid.Cid, name string) (base *schema.Entry, v *schema.Entry, err error) {
	if !mayBeConflictName(name) {
		return nil, nil, nil
	}
	i := strings.LastIndex(name, conflictMarker)
	stem, rest := name[:i], name[i+len(conflictMarker):]
	// rest is <date>-<time>-<id>[EXT]; the base name is stem + EXT.
	const fixed = len("20060102-150405-") + shortIDLen
	if len(rest) < fixed {
		return nil, nil, nil
	}
	baseName := stem + rest[fixed:]
	if schema.ValidName(baseName) != nil {
		return nil, nil, nil
	}
	e, err := t.lookupIn(ctx, dir, baseName)
	if err != nil || e == nil {
		return nil, nil, err
	}
	for k := range e.Conflicts {
		if c := &e.Conflicts[k]; !c.Deleted && ConflictName(e.Name, c) == name {
			return e, c, nil
		}
	}
	// A stem shortened to fit MaxNameLen does not give the base name
	// back: such a copy is listed, but cannot be looked up by its name.
	return nil, nil, nil
}

// withVersion returns old (nil: no entry) with the version that stands
// in for prev replaced by v, and every version v supersedes dropped: the
// entry after a local change to one version of a name. prev is nil when
// v replaces old's shown version.
func withVersion(old *schema.Entry, prev *schema.Entry, v schema.Entry) schema.Entry {
	if old == nil || len(old.Conflicts) == 0 && prev == nil {
		v.Conflicts = nil
		return v
	}
	vs := []schema.Entry{v}
	for i, o := range old.Versions() {
		replaced := prev == nil && i == 0 || prev != nil && sameVersion(&o, prev)
		if replaced {
			continue
		}
		if ord := o.VV.Compare(v.VV); ord == schema.Before || ord == schema.Equal {
			continue
		}
		vs = append(vs, o)
	}
	return schema.FromVersions(vs)
}

func sameVersion(a, b *schema.Entry) bool {
	return string(schema.EncodeEntry(a)) == string(schema.EncodeEntry(b))
}

// errConflictCopy refuses a change inside or to a conflict copy other than
// deleting it.
func errConflictCopy(name string) *acerr.Error {
	return fail(acerr.Permission, "%s is a conflict copy: delete it, or copy it to a name of its own", name)
}
