package cli

import (
	"context"
	"path"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// treePath cleans a path in the tree database given on the command line:
// leading and trailing slashes are dropped; ".", ".." and empty components
// are refused rather than resolved, so a path always names what it says.
func treePath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, c := range strings.Split(p, "/") {
		if err := schema.ValidName(c); err != nil {
			return "", acerr.E("path", p, acerr.Invalid, err)
		}
	}
	return p, nil
}

// friendPath returns p with a friend it names under nodes/ or friends/
// (by name, alias or part of the identity CID) spelled as the tree
// database spells it: home.ResolvePath, at the current HEAD.
func friendPath(ctx context.Context, h *home.Home, p string) (string, error) {
	head, err := h.Get()
	if err != nil {
		return "", err
	}
	return h.ResolvePath(ctx, head, p)
}

// openAt opens the home for a command that reads the tree at one
// optional PATH argument (dflt if there is none): the home, its HEAD, and
// the path cleaned and with a friend it names resolved.
func openAt(ctx context.Context, e *Env, args []string, dflt string) (*home.Home, cid.Cid, string, error) {
	if err := nargs(args, 0, 1); err != nil {
		return nil, cid.Undef, "", err
	}
	p := dflt
	if len(args) == 1 {
		var err error
		if p, err = treePath(args[0]); err != nil {
			return nil, cid.Undef, "", err
		}
	}
	h, head, err := openHead(ctx, e)
	if err != nil {
		return nil, cid.Undef, "", err
	}
	if p, err = h.ResolvePath(ctx, head, p); err != nil {
		h.Close()
		return nil, cid.Undef, "", err
	}
	return h, head, p, nil
}

// base returns the last component of a clean tree path.
func base(p string) string { return path.Base(p) }

// dir returns all but the last component of a clean tree path.
func dir(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}
