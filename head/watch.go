package head

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
)

// DefaultPoll is how often Watch reads HEAD where it cannot be told of
// changes, unless Config.Poll is set.
const DefaultPoll = time.Second

// Watch reports HEAD on the channel it returns: the root HEAD holds when
// Watch is called (nothing while the home has none), then each root that
// differs from the last one reported, in the order HEAD held them. It
// reports the HEAD it reads after being told of a change, so changes in
// quick succession, or made while the receiver is busy, may be reported
// as the last of them only (see the package documentation); the newest
// HEAD is always reported. A HEAD that does not read (a home being
// repaired) is not reported, and watching goes on. The channel is closed
// when ctx ends, and not before.
func (h *Head) Watch(ctx context.Context) <-chan cid.Cid {
	var wake <-chan struct{}
	if !h.poll {
		// Before the first read, so that no change slips between the two.
		wake = notify(ctx, h.dir)
	}
	out := make(chan cid.Cid)
	go func() {
		defer close(out)
		var tick <-chan time.Time
		startPolling := func() {
			every := h.cfg.Poll
			if every <= 0 {
				every = DefaultPoll
			}
			t := time.NewTicker(every)
			context.AfterFunc(ctx, t.Stop)
			tick = t.C
		}
		if wake == nil {
			startPolling()
		}
		var last cid.Cid
		for {
			if c, err := h.read(); err == nil && c.Defined() && !c.Equals(last) {
				select {
				case out <- c:
					last = c
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case _, ok := <-wake:
				if !ok { // the notifier failed: poll from now on
					wake = nil
					startPolling()
				}
			case <-tick:
			}
		}
	}()
	return out
}
