package head_test

import (
	"context"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/head"
	"github.com/ipfs/go-cid"
)

// TestHeadSwap: a swap from the root HEAD holds goes through; one from
// any other root fails with acerr.Stale, naming what HEAD holds, and
// changes neither HEAD nor the log.
func TestHeadSwap(t *testing.T) {
	ctx := context.Background()
	home, st, tr, c0 := headWithChange(t)
	h := head.Open(home, st, head.Config{})
	c1 := mustPut(t, tr, c0, "root/one", file("one"))
	c2 := mustPut(t, tr, c0, "root/two", file("two"))
	if err := h.Swap(ctx, "one", c0, c1); err != nil {
		t.Fatalf("Swap(%s → %s) from HEAD: %v", c0, c1, err)
	}
	err := h.Swap(ctx, "two", c0, c2)
	wantKind(t, "Swap from a root HEAD no longer holds", err, acerr.Stale)
	if err != nil && (!strings.Contains(err.Error(), c1.String()) || !strings.Contains(err.Error(), home)) {
		t.Errorf("Swap error = %v, want it to name the home and HEAD's %s", err, c1)
	}
	wantKind(t, "Swap as if there were no HEAD", h.Swap(ctx, "init again", cid.Undef, c2), acerr.Stale)
	wantKind(t, "Swap to nothing", h.Swap(ctx, "nothing", c1, cid.Undef), acerr.Invalid)
	if err := h.Swap(ctx, "same", c1, c1); err != nil {
		t.Errorf("Swap(%s → itself) = %v, want nil", c1, err)
	}
	if now, err := h.Get(); err != nil || !now.Equals(c1) {
		t.Errorf("Get() = %s, %v; want %s", now, err, c1)
	}
	log, err := h.Log()
	if err != nil || len(log) != 2 || log[0].Command != "one" || !log[0].Old.Equals(c0) || !log[0].New.Equals(c1) {
		t.Errorf("Log() = %+v, %v; want the one swap that went through on top of init", log, err)
	}
	checkAgrees(t, "after swaps", home, st)
}

// TestHeadUpdateRetries: a change made while Update computes (here by
// fn itself, behind Update's back, on its first run) makes Update
// compute again from the new HEAD; both changes are in HEAD and the
// log, the one made meanwhile first.
func TestHeadUpdateRetries(t *testing.T) {
	ctx := context.Background()
	home, st, tr, c0 := headWithChange(t)
	h := head.Open(home, st, head.Config{})
	other := head.Open(home, st, head.Config{}) // as another command would
	var seen []cid.Cid
	got, err := h.Update(ctx, "mine", func(old cid.Cid) (cid.Cid, error) {
		seen = append(seen, old)
		if len(seen) == 1 {
			if _, err := other.Update(ctx, "meanwhile", put(tr, "root/meanwhile")); err != nil {
				return cid.Undef, err
			}
		}
		return put(tr, "root/mine")(old)
	})
	if err != nil {
		t.Fatal(err)
	}
	log, err := h.Log()
	if err != nil || len(log) != 3 || log[0].Command != "mine" || log[1].Command != "meanwhile" || !log[0].New.Equals(got) {
		t.Fatalf("Log() = %+v, %v; want init, meanwhile, mine ending at %s", log, err, got)
	}
	if len(seen) != 2 || !seen[0].Equals(c0) || !seen[1].Equals(log[1].New) {
		t.Errorf("fn was given %v, want %s, then the root made meanwhile %s", seen, c0, log[1].New)
	}
	for _, p := range []string{"root/init", "root/meanwhile", "root/mine"} {
		if _, err := tr.Lookup(ctx, got, p); err != nil {
			t.Errorf("HEAD lacks %s: %v", p, err)
		}
	}
}

// TestHeadUpdateGivesUp: a HEAD that moves under every try makes Update
// fail with acerr.Stale after MaxTries, HEAD holding only the others'
// changes.
func TestHeadUpdateGivesUp(t *testing.T) {
	ctx := context.Background()
	home, st, tr, _ := headWithChange(t)
	h := head.Open(home, st, head.Config{})
	other := head.Open(home, st, head.Config{})
	tries := 0
	_, err := h.Update(ctx, "never", func(old cid.Cid) (cid.Cid, error) {
		tries++
		if _, err := other.Update(ctx, "meanwhile", put(tr, "root/meanwhile-"+strings.Repeat("x", tries))); err != nil {
			return cid.Undef, err
		}
		return put(tr, "root/never")(old)
	})
	wantKind(t, "Update under a HEAD that always moves", err, acerr.Stale)
	if tries != head.MaxTries {
		t.Errorf("Update computed %d times, want %d", tries, head.MaxTries)
	}
	log, _ := h.Log()
	if len(log) != 1+head.MaxTries || log[0].Command != "meanwhile" {
		t.Errorf("Log() has %d entries, newest %q; want init and %d others, none of the failed change", len(log), log[0].Command, head.MaxTries)
	}
}
