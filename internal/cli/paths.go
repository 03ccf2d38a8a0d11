package cli

import (
	"path"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
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
