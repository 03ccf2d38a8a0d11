// Package progress is how long work says how far it is: a Counter of
// files and bytes done, and of the totals where they are known, that
// the library code (localfs, home) adds to as it goes and a front end
// reads at any time to draw a line or write a status line. It imports
// nothing of the project, so every layer can take one; library code
// never prints, and a nil *Counter counts nothing, so a caller that
// shows no progress passes none.
//
// A total is a pre-count made beside the work (a walk of the local tree
// being added, the sizes in the entries of a tree being exported or
// verified): it grows while the count goes on, and Final says when it
// is complete, so that a front end shows a percentage and a time left
// only then. Where no total can be known cheaply (a CAR read from a
// pipe, the blocks a merge fetches) the front end shows what is done and
// the rate.
package progress
