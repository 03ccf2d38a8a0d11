package tree_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Path operations on a tree database: every change returns a new root,
// and old roots stay readable.
func Example() {
	ctx := context.Background()
	store := ipfsstore.NewMemory()
	defer store.Close()
	t := tree.New(store, tree.Config{
		Replica: "laptop",
		Now:     func() time.Time { return time.Unix(1700000000, 0) },
	})

	content, size, err := store.AddFile(ctx, strings.NewReader("hello, world\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	hello := schema.Entry{Kind: schema.KindFile, Target: content, Size: size, Mode: 0o644}

	// Put creates missing directories; an undefined root is the empty tree.
	root, _ := t.Put(ctx, cid.Undef, "root/projects/hello.txt", hello)
	root, _ = t.Put(ctx, root, "root/forum/welcome.txt", hello)
	before := root
	root, _ = t.Delete(ctx, root, "root/projects/hello.txt")

	_ = t.Walk(ctx, root, "", func(path string, e schema.Entry) error {
		fmt.Println(path, e.Kind, e.VV)
		return nil
	})
	_, err = t.Lookup(ctx, root, "root/projects/hello.txt")
	fmt.Println(err)
	e, _ := t.Lookup(ctx, before, "root/projects/hello.txt")
	fmt.Println("before the delete:", e.Size, "bytes")
	_, err = t.Put(ctx, root, "root/forum/welcome.txt/x", hello)
	fmt.Println(err)

	// Output:
	// root directory_v2 map[laptop:3]
	// root/forum directory_v2 map[laptop:1]
	// root/forum/welcome.txt file_v1 map[laptop:1]
	// root/projects directory_v2 map[laptop:2]
	// tree.Lookup root/projects/hello.txt: does not exist
	// before the delete: 13 bytes
	// tree.Put root/forum/welcome.txt/x: not a directory: root/forum/welcome.txt is a file
}
