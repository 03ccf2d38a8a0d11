package cli

import (
	"fmt"
	"sort"

	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
)

type changeJSON struct {
	Path   string `json:"path"`
	What   string `json:"what"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	letter string // A, M, D or C, for a line of text
}

var whatLetter = map[tree.What]string{tree.Added: "A", tree.Changed: "M", tree.Deleted: "D", tree.Conflict: "C"}

func printChanges(e *Env, changes []tree.Change, asJSON bool) error {
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	if asJSON {
		rows := make([]changeJSON, 0, len(changes))
		for _, c := range changes {
			r := changeJSON{Path: c.Path, What: string(c.What)}
			if c.Old.Target.Defined() {
				r.Old = c.Old.Target.String()
			}
			if c.New.Target.Defined() {
				r.New = c.New.Target.String()
			}
			rows = append(rows, r)
		}
		return writeJSON(e, rows)
	}
	for _, c := range changes {
		p := c.Path
		if c.Old.Kind == schema.KindDirectory || c.New.Kind == schema.KindDirectory {
			p += "/"
		}
		fmt.Fprintf(e.Stdout, "%s %s\n", whatLetter[c.What], quote(p))
	}
	return nil
}
