package acerr

import (
	"errors"
	"fmt"
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
