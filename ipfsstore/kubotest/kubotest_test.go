package kubotest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
)

func TestStartStop(t *testing.T) {
	d := kubotest.StartDaemon(t)
	var id struct{ ID string }
	if err := json.Unmarshal(d.Run(t, nil, "id"), &id); err != nil || id.ID == "" {
		t.Fatalf("ipfs id = %q, %v", id.ID, err)
	}
	if got := d.PeerID(t); got != id.ID {
		t.Fatalf("PeerID = %s, want %s", got, id.ID)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("second Stop = %v", err)
	}
	if resp, err := http.Post(d.URL+"/api/v0/version", "", nil); err == nil {
		resp.Body.Close()
		t.Fatalf("API %s still answers after Stop", d.URL)
	}
}

func TestStartPair(t *testing.T) {
	a, b := kubotest.StartPair(t)
	var peers struct{ Peers []struct{ Peer string } }
	if err := json.Unmarshal(a.Run(t, nil, "swarm", "peers", "--enc=json"), &peers); err != nil {
		t.Fatal(err)
	}
	want := b.PeerID(t)
	for _, p := range peers.Peers {
		if p.Peer == want {
			return
		}
	}
	t.Fatalf("a's peers %v do not include b (%s)", peers.Peers, want)
}
