// Dirnodes measures layouts for directory nodes (package internal/dirbench)
// and prints the tables of docs/DIRNODES.md.
//
// Usage:
//
//	go run ./bench/dirnodes [-sizes 1000,10000,500000] [-seed 1] > tables.md
//
// Progress goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/archivecache/archivecache/internal/dirbench"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("dirnodes: ")
	sizes := flag.String("sizes", "1000,10000,500000", "directory sizes to measure, comma-separated")
	seed := flag.Uint64("seed", 1, "seed of the sample entries")
	flag.Parse()
	var ns []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "dirnodes: -sizes: %q is not a size of at least 10\n", f)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	if err := dirbench.Run(context.Background(), os.Stdout, ns, *seed, os.Stderr); err != nil {
		log.Fatal(err)
	}
}
