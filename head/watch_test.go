package head_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/archivecache/archivecache/head"
	"github.com/ipfs/go-cid"
)

// TestHeadWatch watches a home, as a long-running process would, while
// changes are made to it, told of them by the system and by polling:
// the HEAD at the start, then each change made one at a time, in order;
// of three made at once the last at least, and nothing out of order;
// and the channel closes when the context ends.
func TestHeadWatch(t *testing.T) {
	for _, how := range []string{"notified", "polling"} {
		t.Run(how, func(t *testing.T) {
			home, st, tr, c0 := headWithChange(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Told by the system, the watch never polls: a poll of an hour
			// would fail the test.
			w := head.Open(home, st, head.Config{Poll: time.Hour})
			if how == "polling" {
				w = head.Open(home, st, head.Config{Poll: 10 * time.Millisecond})
				head.SetPolling(w)
			}
			ch := w.Watch(ctx)
			next := func(what string) cid.Cid {
				t.Helper()
				select {
				case c, ok := <-ch:
					if !ok {
						t.Fatalf("%s: the watch closed", what)
					}
					return c
				case <-time.After(time.Minute):
					t.Fatalf("%s: nothing reported in a minute", what)
				}
				return cid.Undef
			}
			if got := next("start"); !got.Equals(c0) {
				t.Fatalf("Watch reported %s first, want the HEAD at the start %s", got, c0)
			}
			h := head.Open(home, st, head.Config{})
			for i := range 3 {
				c, err := h.Update(ctx, "one", put(tr, fmt.Sprintf("root/one-%d", i)))
				if err != nil {
					t.Fatal(err)
				}
				if got := next(fmt.Sprintf("change %d", i)); !got.Equals(c) {
					t.Errorf("change %d: Watch reported %s, want %s", i, got, c)
				}
			}

			// Three at once: what is reported is HEADs in the order they
			// came, ending with the last.
			order := map[cid.Cid]int{}
			var last cid.Cid
			for i := range 3 {
				c, err := h.Update(ctx, "burst", put(tr, fmt.Sprintf("root/burst-%d", i)))
				if err != nil {
					t.Fatal(err)
				}
				order[c], last = i, c
			}
			prev := -1
			for {
				got := next("burst")
				i, ok := order[got]
				if !ok || i <= prev {
					t.Fatalf("Watch reported %s in the burst, which is not a later HEAD of it (%v)", got, order)
				}
				if prev = i; got.Equals(last) {
					break
				}
			}

			cancel()
			select {
			case c, ok := <-ch:
				if ok {
					t.Errorf("Watch reported %s after the context ended, want the channel closed", c)
				}
			case <-time.After(time.Minute):
				t.Fatal("the watch did not close in a minute after its context ended")
			}
		})
	}
}
