package ipfsstore_test

import (
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ipfsstore.Store {
		s := ipfsstore.NewMemory()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
