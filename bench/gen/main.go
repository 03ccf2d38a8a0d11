// Command gen writes the benchmark workload: a tree of DIRS directories of
// FILES files each, of 1–64 KiB of seeded random bytes, and optionally one
// large file. The same seed always writes the same bytes.
//
// Usage:
//
//	go run ./bench/gen -tree DIR [-dirs 100] [-files 100] [-big FILE -big-size 512] [-seed 1]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"path/filepath"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	tree := flag.String("tree", "", "write the tree into `dir`")
	dirs := flag.Int("dirs", 100, "directories in the tree")
	files := flag.Int("files", 100, "files per directory")
	minSize := flag.Int("min", 1<<10, "smallest file, bytes")
	maxSize := flag.Int("max", 64<<10, "largest file, bytes")
	big := flag.String("big", "", "write one large file to `path`")
	bigMiB := flag.Int("big-size", 512, "size of the large file in MiB")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	if flag.NArg() != 0 || (*tree == "" && *big == "") {
		flag.Usage()
		os.Exit(2)
	}
	r := rand.New(rand.NewSource(*seed))
	if *tree != "" {
		var total int64
		buf := make([]byte, *maxSize)
		for d := 0; d < *dirs; d++ {
			dir := filepath.Join(*tree, fmt.Sprintf("dir%03d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				log.Fatal(err)
			}
			for f := 0; f < *files; f++ {
				n := *minSize + r.Intn(*maxSize-*minSize+1)
				r.Read(buf[:n])
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%03d.bin", f)), buf[:n], 0o644); err != nil {
					log.Fatal(err)
				}
				total += int64(n)
			}
		}
		fmt.Printf("tree: %d files, %d bytes\n", *dirs**files, total)
	}
	if *big != "" {
		f, err := os.Create(*big)
		if err != nil {
			log.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		buf := make([]byte, 1<<20)
		for i := 0; i < *bigMiB; i++ {
			r.Read(buf)
			w.Write(buf)
		}
		if err := w.Flush(); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("big: %d MiB\n", *bigMiB)
	}
}
