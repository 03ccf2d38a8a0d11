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
		changeLine(e, c.What, p)
	}
	return nil
}

// changeLine prints the line of one change: "A path", "M path", "D path"
// or "C path".
func changeLine(e *Env, what tree.What, p string) {
	fmt.Fprintf(e.Stdout, "%s %s\n", whatLetter[what], quote(p))
}

// changeCounts are the changes of one command counted, for its summary.
type changeCounts map[tree.What]int

func countChanges(changes []tree.Change) changeCounts {
	n := changeCounts{}
	for _, c := range changes {
		n[c.What]++
	}
	return n
}

// summary is the line that says what a command changed, as rsync's and
// git's stat do: "3 added, 1 modified, 0 deleted", with the conflict
// copies and the files kept as they were where there are any.
func (n changeCounts) summary(kept int) string {
	s := fmt.Sprintf("%d added, %d modified, %d deleted", n[tree.Added], n[tree.Changed], n[tree.Deleted])
	if c := n[tree.Conflict]; c > 0 {
		s += fmt.Sprintf(", %d conflict copies", c)
	}
	if kept > 0 {
		s += fmt.Sprintf(", %d unchanged", kept)
	}
	return s
}
