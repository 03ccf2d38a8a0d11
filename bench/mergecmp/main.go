// Command mergecmp measures a merge of two 100,000-file trees that differ
// in 10 files on each side, by ArchiveCache and by git, on the same shape
// of data in one run, and prints medians and ratios as a Markdown table.
// It is what docs/BENCHMARKS.md quotes.
//
// The trees: DIRS directories of FILES small files, a base, and two
// branches that each change CHANGES files chosen with a fixed seed.
//
//   - ac merge: merge.Merger on the embedded store (a fresh home in DIR),
//     the two roots written and synced first, the store reopened so that
//     the merge reads from the pack files; with the blocks it read.
//   - ac walk: a walk of one tree on the same store, the cost of any
//     merge that does not skip equal subtrees.
//   - git merge-tree: `git merge-tree --write-tree a b`, git's merge of
//     the trees alone, in a repository written by git fast-import.
//   - git merge: `git merge` of b into a checked-out a, index and work
//     tree included (reset between runs, not timed).
//
// Usage:
//
//	go run ./bench/mergecmp [-dir DIR] [-runs 5] [-dirs 1000] [-files 100] [-changes 10]
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mergecmp: ")
	dir := flag.String("dir", "/dev/shm/ac-mergecmp", "work `dir`")
	runs := flag.Int("runs", 5, "repetitions of each measurement")
	dirs := flag.Int("dirs", 1000, "directories")
	files := flag.Int("files", 100, "files per directory")
	changes := flag.Int("changes", 10, "files each branch changes")
	flag.Parse()
	must(os.RemoveAll(*dir))
	must(os.MkdirAll(*dir, 0o755))
	defer os.RemoveAll(*dir)

	r := rand.New(rand.NewSource(1))
	pick := func() []string {
		var out []string
		for range *changes {
			out = append(out, fmt.Sprintf("dir%04d/file%04d.txt", r.Intn(*dirs), r.Intn(*files)))
		}
		return out
	}
	changedA, changedB := pick(), pick()

	acMerge, acWalk, reads := benchAC(filepath.Join(*dir, "ac"), *dirs, *files, changedA, changedB, *runs)
	gitTree, gitMerge := benchGit(filepath.Join(*dir, "git"), *dirs, *files, changedA, changedB, *runs)

	fmt.Printf("| merge of %d files, %d changes on each side | median | ÷ ac merge |\n", *dirs**files, *changes)
	fmt.Println("|---|---|---|")
	row := func(name string, d time.Duration) {
		fmt.Printf("| %s | %.1f ms | %.1f× |\n", name, float64(d.Microseconds())/1000, float64(d)/float64(acMerge))
	}
	row(fmt.Sprintf("ac merge (%d blocks read)", reads), acMerge)
	row("ac walk of one tree", acWalk)
	row("git merge-tree --write-tree", gitTree)
	row("git merge (index and work tree)", gitMerge)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func content(path, side string) []byte { return []byte(fmt.Sprintf("%s of %s\n", side, path)) }

func benchAC(dir string, dirs, files int, changedA, changedB []string, runs int) (mergeT, walkT time.Duration, reads int64) {
	ctx := context.Background()
	st, err := ipfsstore.OpenEmbedded(ctx, ipfsstore.Config{Dir: dir})
	must(err)
	now := time.Now
	mk := tree.New(st, tree.Config{Now: now})
	var top []schema.Entry
	for d := range dirs {
		entries := make([]schema.Entry, files)
		for f := range files {
			p := fmt.Sprintf("dir%04d/file%04d.txt", d, f)
			c, n, err := st.AddFile(ctx, bytes.NewReader(content(p, "base")))
			must(err)
			entries[f] = schema.Entry{Name: fmt.Sprintf("file%04d.txt", f), Kind: schema.KindFile, Target: c, Size: n, Mode: 0o644, Mtime: 1, VV: schema.VV{"base": 1}}
		}
		c, err := mk.MakeDir(ctx, entries)
		must(err)
		top = append(top, schema.Entry{Name: fmt.Sprintf("dir%04d", d), Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"base": 1}})
	}
	base, err := mk.MakeDir(ctx, top)
	must(err)
	edit := func(replica string, paths []string) cid.Cid {
		tr := tree.New(st, tree.Config{Replica: replica, Now: now})
		root := base
		for _, p := range paths {
			c, n, err := st.AddFile(ctx, bytes.NewReader(content(p, replica)))
			must(err)
			root, err = tr.Put(ctx, root, p, schema.Entry{Kind: schema.KindFile, Target: c, Size: n, Mode: 0o644})
			must(err)
		}
		return root
	}
	a, b := edit("a", changedA), edit("b", changedB)
	must(st.Close())

	var ms, ws []time.Duration
	for range runs {
		s, err := ipfsstore.OpenEmbedded(ctx, ipfsstore.Config{Dir: dir})
		must(err)
		cs := &storetest.Counting{Store: s}
		m := merge.New(merge.Config{Store: cs})
		start := time.Now()
		_, _, err = m.Merge(ctx, a, b)
		ms = append(ms, time.Since(start))
		must(err)
		reads = cs.Gets.Load()
		start = time.Now()
		err = tree.New(s, tree.Config{}).Walk(ctx, a, "", func(string, schema.Entry) error { return nil })
		ws = append(ws, time.Since(start))
		must(err)
		must(s.Close())
	}
	return median(ms), median(ws), reads
}

func git(dir string, stdin []byte, args ...string) []byte {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.org",
		"GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@example.org")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("git %v: %v\n%s", args, err, errb.String())
	}
	return out
}

func benchGit(dir string, dirs, files int, changedA, changedB []string, runs int) (treeT, mergeT time.Duration) {
	must(os.MkdirAll(dir, 0o755))
	git(dir, nil, "init", "-q", "-b", "main")
	var s bytes.Buffer
	w := bufio.NewWriter(&s)
	blob := func(data []byte) {
		fmt.Fprintf(w, "data %d\n", len(data))
		w.Write(data)
		w.WriteString("\n")
	}
	commit := func(ref, from string, paths []string, side string) {
		fmt.Fprintf(w, "commit %s\ncommitter b <b@example.org> 1700000000 +0000\n", ref)
		blob([]byte(side))
		if from != "" {
			fmt.Fprintf(w, "from %s\n", from)
		}
		for _, p := range paths {
			fmt.Fprintf(w, "M 100644 inline %s\n", p)
			blob(content(p, side))
		}
	}
	var all []string
	for d := range dirs {
		for f := range files {
			all = append(all, fmt.Sprintf("dir%04d/file%04d.txt", d, f))
		}
	}
	commit("refs/heads/main", "", all, "base")
	commit("refs/heads/a", "refs/heads/main", changedA, "a")
	commit("refs/heads/b", "refs/heads/main", changedB, "b")
	must(w.Flush())
	git(dir, s.Bytes(), "fast-import", "--quiet")
	git(dir, nil, "checkout", "-q", "a")

	var ts, mts []time.Duration
	for range runs {
		start := time.Now()
		git(dir, nil, "merge-tree", "--write-tree", "a", "b")
		ts = append(ts, time.Since(start))
		git(dir, nil, "reset", "-q", "--hard", "a")
		start = time.Now()
		git(dir, nil, "merge", "-q", "--no-edit", "b")
		mts = append(mts, time.Since(start))
	}
	return median(ts), median(mts)
}
