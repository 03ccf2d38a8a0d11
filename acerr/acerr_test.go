package acerr

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

var printTests = []struct {
	err  error
	want string
}{
	{E("tree.Get", "root/a", NotExist, nil), "tree.Get root/a: does not exist"},
	{E("tree.Put", "root/a", NotDir, errors.New("entry is a file")), "tree.Put root/a: not a directory: entry is a file"},
	{E("verify", "", Signature, E("identity.Verify", "", Signature, nil)).WithCID("bafyx"),
		"verify bafyx: identity.Verify: signature does not verify"},
	{E("", "", Invalid, errors.New("bad")), "invalid: bad"},
	{E("message.Parse", "", Signature, E("policy.Check", "", Signature, nil).WithCID("bafyx")).WithCID("bafyx"),
		"message.Parse: policy.Check bafyx: signature does not verify"},
}

func TestPrint(t *testing.T) {
	for _, tt := range printTests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestKindThroughWrapping(t *testing.T) {
	inner := E("store.Get", "", NotExist, nil)
	outer := fmt.Errorf("loading HEAD: %w", E("tree.Load", "root", Other, inner))
	if !Is(NotExist, outer) {
		t.Errorf("Is(NotExist, %v) = false, want true", outer)
	}
	if !errors.Is(outer, NotExist) {
		t.Errorf("errors.Is(%v, NotExist) = false, want true", outer)
	}
	if errors.Is(outer, Stale) {
		t.Errorf("errors.Is(%v, Stale) = true, want false", outer)
	}
	if KindOf(errors.New("plain")) != Other {
		t.Errorf("KindOf(plain) != Other")
	}
}

var briefTests = []struct {
	err  error
	want string
}{
	// The object is the outermost path; operation names go.
	{E("cat", "root/a", Other, E("tree.Lookup", "root/a", NotExist, nil)), "root/a: does not exist"},
	{E("tree.Put", "root/a", NotDir, errors.New("root/b is a file")), "root/a: not a directory: root/b is a file"},
	// The innermost path and CID follow the object, then the kind and cause.
	{E("merge", "nodes/x/root", Other, E("merge.Merge", "root/p", Other, E("ipfsstore.Get", "", NotExist, nil).WithCID("bafyx"))),
		"nodes/x/root: root/p: bafyx: does not exist"},
	// Without a path, the CID is the object.
	{E("verify", "", Signature, E("identity.Verify", "", Signature, nil)).WithCID("bafyx"), "bafyx: signature does not verify"},
	// A message that says the kind is not preceded by it.
	{E("", "", Invalid, errors.New("an invalid name")), "an invalid name"},
	{E("", "", Invalid, errors.New("bad")), "invalid: bad"},
	// A system call's error says what the kind would; its path goes when
	// it is the object.
	{E("add", "f.txt", NotExist, &fs.PathError{Op: "lstat", Path: "f.txt", Err: syscall.ENOENT}), "f.txt: no such file or directory"},
	{E("get", "out", Exist, &fs.PathError{Op: "mkdir", Path: "out/d", Err: syscall.EEXIST}), "out: out/d: file exists"},
	{E("get", "keep.txt", Exist, fs.ErrExist), "keep.txt: file already exists"},
	// The outermost hint comes last; a plain error reads as it is.
	{E("merge", "nodes/x/root", Other, E("ipfsstore.Get", "", NotExist, nil).WithCID("bafyx").WithHint("inner")).WithHint("take their CAR in with ac-import"),
		"nodes/x/root: bafyx: does not exist (take their CAR in with ac-import)"},
	{fmt.Errorf("reading: %w", errors.New("EOF")), "reading: EOF"},
	{fmt.Errorf("loading: %w", E("tree.Load", "root", Stale, nil)), "root: stale"},
	// What a plain error between two Errors says stays, in its place.
	{E("car.Read", "", TooLarge, fmt.Errorf("reading the section at offset 7: %w", E("reading stdin", "", TooLarge, errors.New("input is longer than 80")))),
		"reading the section at offset 7: too large: input is longer than 80"},
	{E("verify", "root", Integrity, fmt.Errorf("%w; not repaired: the CAR lacks it", E("ipfsstore.Get", "", Integrity, nil).WithCID("bafyx"))),
		"root: bafyx: integrity check failed; not repaired: the CAR lacks it"},
}

func TestBrief(t *testing.T) {
	for _, tt := range briefTests {
		if got := Brief(tt.err); got != tt.want {
			t.Errorf("Brief(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestObject(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{E("cat", "root/a", Other, E("tree.Lookup", "root/b", NotExist, nil)), "root/a"},
		{E("verify", "", Signature, E("x", "", Signature, nil).WithCID("bafyy")).WithCID("bafyx"), "bafyx"},
		{E("merge", "", Other, E("x", "root/p", NotExist, nil).WithCID("bafyx")), "root/p"},
		{errors.New("plain"), ""},
	} {
		if got := Object(tt.err); got != tt.want {
			t.Errorf("Object(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for k := Other; k <= Locked; k++ {
		c := k.Code()
		if c == "" || c == "unknown" || seen[c] {
			t.Errorf("kind %d (%s) has code %q", k, k, c)
		}
		seen[c] = true
	}
}
