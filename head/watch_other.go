//go:build !linux

package head

import "context"

// notify would tell Watch of changes of HEAD; without inotify it cannot,
// and Watch polls.
func notify(context.Context, string) <-chan struct{} { return nil }
