// Package head owns which root of the tree database is a home's current
// one: the file HEAD, its lock, its history log, and the protocol by
// which many processes (commands, a mount, a receiver) change it
// without losing each other's changes or leaving it torn by a crash. It
// also tells a long-running process when HEAD moves (Watch). What the
// roots hold is package tree's; which files make a home, package home's.
//
// # Files
//
// A home directory holds the files that Head manages:
//
//	HEAD      the root CID of the tree database and a newline
//	HEAD.tmp  the next HEAD, for the moment before it replaces HEAD
//	lock      locked with flock(2) for the whole of every swap; the
//	          holder writes {"pid": ..., "command": ...} into it
//	log       the history: one JSON line per change of HEAD,
//	          {"time": RFC 3339, "command": ..., "old": CID, "new": CID,
//	           "replica": the id of the home that made it}
//
// # Compare-and-swap, computing outside the lock
//
// Every change of the tree database is a compare-and-swap of HEAD.
// Swap(old, new) takes the lock, reads HEAD, brings the log into
// agreement with it (below), and commits new only if HEAD still holds
// old; otherwise it fails with acerr.Stale and changes nothing. Update
// is the loop around it: read HEAD, compute the new root from it with
// the caller's function (outside the lock, for as long as that takes:
// a merge may wait seconds on bitswap), swap; if HEAD moved meanwhile,
// compute again from the new HEAD, up to MaxTries times. So the lock is
// held only for the few file operations of a swap, a command never
// waits on another's computing, and no change is lost: one that lost
// the race is computed again on top of the one that won. The function
// Update calls may therefore run more than once, and must keep nothing
// from one run to the next. A waiter for the lock says so after
// Config.Notice through Config.Waiting, naming the holder from the lock
// file, and gives up after Config.LockTimeout.
//
// Repair is the one change computed under the lock: it replaces a HEAD
// that may not even read, which no compare could match.
//
// # Commit and recovery
//
// A swap writes ahead: check that the store holds the new root and sync
// the store (before the lock: that costs time, and nothing under the lock
// needs it); then, under the lock, write the new CID to HEAD.tmp and
// fsync it; append the log line and fsync the log; rename HEAD.tmp over
// HEAD, which is the commit point; fsync the home directory. Whatever
// fails before the rename removes HEAD.tmp and cuts the log line off
// again, and the swap fails with HEAD as it was; should the directory
// fsync fail after the rename, the old HEAD is put back and the swap
// fails too. So a swap returns nil if and only if HEAD holds the
// change, and the log has the line of every HEAD there ever was.
// Writing the line before the rename rather than after it is what makes
// both hold: everything that can run out of space (HEAD.tmp, the line)
// happens before the commit point, which needs none, and the line a
// crash can leave without its HEAD is one that is easy to recognise and
// drop, while a HEAD left without its line would lose who made it and
// when.
//
// A crash (or a failure whose clean-up failed too) between the append
// and the rename leaves a last line whose old root is HEAD's and whose
// new one is not: a change that never happened. Log leaves such a line
// out, and the next swap or Repair cuts it off under the lock, where no
// commit can be in flight. A HEAD that the log lacks altogether (the
// log was lost or edited) gets a line with the command
// RecoveredCommand. A home whose HEAD is missing while its log is not
// empty is damaged, not new: Update and Swap refuse it, and Repair,
// given the history, restores a HEAD from it (see package home).
//
// Crash guarantees, for a process killed at any instant (kill -9, or a
// power loss on a file system that honours fsync):
//
//   - HEAD holds either the old root or the new one, never a mix: rename
//     is atomic, and the new file was durable before it. A reader
//     outside the lock (Get, Update's first read, Watch) sees one HEAD
//     whole.
//   - Every block of the root in HEAD is in the store: the store is synced
//     before HEAD moves, and a swap refuses a root the store lacks.
//   - HEAD is in the log, and the log, as Log reads it, claims no change
//     that HEAD does not hold: the line is durable before the rename, and
//     a line whose rename never happened is left out and later cut off.
//   - The lock dies with its process; the next command does not wait for
//     it, and replaces any HEAD.tmp the killed one left.
//   - A line torn by a crash during an append is ignored by Log and cut
//     off by the next change.
//
// # Watching
//
// Watch gives a long-running process the HEADs as they come: the one
// current when it starts, then each new one. On Linux it is told of
// every rename over HEAD by inotify(7) on the home directory; where
// inotify is missing or fails, it reads HEAD every Config.Poll. Either
// way it reports the HEAD it reads after being woken, so several changes
// in quick succession may be reported as their last one: a watcher
// learns where HEAD is, not every step it took (the log has those).
package head
