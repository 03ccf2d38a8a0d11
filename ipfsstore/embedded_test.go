package ipfsstore_test

import (
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
)

func TestEmbedded(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ipfsstore.Store {
		s, err := ipfsstore.Open(t.Context(), ipfsstore.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
