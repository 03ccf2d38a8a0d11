// Command compare runs the same workload through ArchiveCache, kubo and
// cp side by side, on the same data in one run, and prints medians and
// ratios as a Markdown table. It is what docs/BENCHMARKS.md quotes.
//
// The workload (bench/gen, fixed seed): a tree of 100 directories of 100
// files of 1–64 KiB, and one large file. Each location (-disk, -tmpfs) gets
// its own copy of the data and its own fresh homes and kubo repos; every
// measurement is repeated -runs times and the median is reported, with the
// peak RSS of the process. Within a workload ac, kubo and cp take turns,
// and which goes first rotates from run to run.
//
// Usage:
//
//	go run ./bench/compare [-disk DIR] [-tmpfs DIR] [-runs 3] [-big-size 512] [-settle 35s]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type sample struct {
	wall    time.Duration
	durable time.Duration // wall, and then a sync(2) of what the command left dirty
	rss     int64         // KiB
}

type result struct {
	name    string
	samples []sample
}

func (r *result) median() sample {
	s := append([]sample(nil), r.samples...)
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	m := s[len(s)/2]
	sort.Slice(s, func(i, j int) bool { return s[i].durable < s[j].durable })
	m.durable = s[len(s)/2].durable
	var rss int64
	for _, x := range r.samples {
		rss = max(rss, x.rss)
	}
	m.rss = rss
	return m
}

type bench struct {
	bin, ipfs string
	results   map[string]*result
	order     []string
}

func (b *bench) record(key string, s sample) {
	r, ok := b.results[key]
	if !ok {
		r = &result{name: key}
		b.results[key] = r
		b.order = append(b.order, key)
	}
	r.samples = append(r.samples, s)
	if !strings.HasPrefix(key, "startup/") {
		log.Printf("%s: %s (on disk after %s)", key, ms(s.wall), ms(s.durable))
	}
}

// run runs a command and returns its wall time, peak RSS and stdout.
func run(env []string, name string, args ...string) (sample, string) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// Every command starts with nothing dirty in the page cache, so none
	// pays for writing back what the one before it left.
	syscall.Sync()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		log.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	// kubo's flatfs does not sync and cp never does, while ac-add syncs
	// before it names anything in HEAD; the time until the data is on the
	// disk compares them like for like.
	syscall.Sync()
	durable := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: wall, durable: durable, rss: ru.Maxrss}, out.String()
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("compare: ")
	disk := flag.String("disk", "/var/tmp/ac-bench", "work `dir` on the disk")
	tmpfs := flag.String("tmpfs", "/dev/shm/ac-bench", "work `dir` on tmpfs (empty: skip)")
	runs := flag.Int("runs", 3, "repetitions of each measurement")
	bigMiB := flag.Int("big-size", 512, "size of the large file in MiB (0: skip)")
	settle := flag.Duration("settle", 35*time.Second, "wait between disk runs, after deleting the last one's files")
	flag.Parse()

	must(os.MkdirAll(*disk, 0o755))
	bin := filepath.Join(*disk, "bin")
	log.Printf("building the commands")
	_, _ = run(nil, "go", "build", "-o", bin+"/", "./tools/...", "./bench/hello")
	_, ipfsOut := run(nil, "go", "tool", "-n", "ipfs")
	b := &bench{bin: bin, ipfs: strings.TrimSpace(ipfsOut), results: map[string]*result{}}

	locations := []struct{ name, dir string }{{"disk", *disk}}
	if *tmpfs != "" {
		locations = append(locations, struct{ name, dir string }{"tmpfs", *tmpfs})
	}
	for _, loc := range locations {
		data := filepath.Join(loc.dir, "data")
		if _, err := os.Stat(filepath.Join(data, "done")); err != nil {
			log.Printf("%s: generating the workload in %s", loc.name, data)
			must(os.RemoveAll(data))
			args := []string{"run", "./bench/gen", "-tree", filepath.Join(data, "tree")}
			if *bigMiB > 0 {
				args = append(args, "-big", filepath.Join(data, "big"), "-big-size", fmt.Sprint(*bigMiB))
			}
			run(nil, "go", args...)
			must(os.WriteFile(filepath.Join(data, "done"), nil, 0o644))
		}
		// Read the workload once, so that no command of the first run
		// pays for bringing it into the page cache.
		warm(data)
		// Each run's files are deleted when it ends. On ext4, creating
		// files soon after many were deleted costs several times more (the
		// inode allocator scans past inodes it will not reuse for 30 s), so
		// the next disk run waits -settle first. Keeping the files instead
		// made even plain writes into the page cache slow down as the cache
		// grew: cp of the 512 MiB file, unsynced, went from 0.2 s in the
		// first run to 1.3 s in the second.
		for i := 0; i < *runs; i++ {
			log.Printf("%s: run %d of %d", loc.name, i+1, *runs)
			scratch := b.once(loc.name, loc.dir, data, i, *bigMiB > 0)
			must(os.RemoveAll(scratch))
			if loc.name == "disk" && i+1 < *runs {
				time.Sleep(*settle)
			}
		}
	}
	b.startup(*disk, *runs)
	b.report(locations)
}

// warm reads every file under dir.
func warm(dir string) {
	must(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	}))
}

func (b *bench) ac(name string) string { return filepath.Join(b.bin, name) }

// once runs every workload once in a new scratch directory under dir and
// returns that directory; the caller removes it.
func (b *bench) once(loc, dir, data string, i int, big bool) (scratch string) {
	scratch = filepath.Join(dir, fmt.Sprintf("run%d", i))
	must(os.RemoveAll(scratch))
	must(os.MkdirAll(scratch, 0o755))
	acEnv := []string{"AC_HOME=" + filepath.Join(scratch, "ac"), "AC_API="}
	ipfsEnv := []string{"IPFS_PATH=" + filepath.Join(scratch, "ipfs")}
	run(acEnv, b.ac("ac-init"))
	run(ipfsEnv, b.ipfs, "init", "--profile=test")

	tree := filepath.Join(data, "tree")
	var treeCID string
	b.turns(i,
		func() { b.measure(loc+"/add tree/ac", acEnv, b.ac("ac-add"), tree, "root/projects/tree") },
		func() {
			treeCID = b.measure(loc+"/add tree/kubo", ipfsEnv, b.ipfs, "add", "-r", "-Q", "--cid-version=1", "--offline", tree)
		},
		func() { b.measure(loc+"/add tree/cp -r", nil, "cp", "-r", tree, filepath.Join(scratch, "cp-tree")) },
	)
	b.turns(i,
		func() {
			b.measure(loc+"/get tree/ac", acEnv, b.ac("ac-get"), "root/projects/tree", filepath.Join(scratch, "ac-tree"))
		},
		func() {
			b.measure(loc+"/get tree/kubo", ipfsEnv, b.ipfs, "get", "--offline", "-o", filepath.Join(scratch, "ipfs-tree"), treeCID)
		},
		func() {
			b.measure(loc+"/get tree/cp -r", nil, "cp", "-r", filepath.Join(scratch, "cp-tree"), filepath.Join(scratch, "cp-tree2"))
		},
	)
	if i == 0 {
		run(nil, "diff", "-r", tree, filepath.Join(scratch, "ac-tree"))
	}

	if !big {
		return scratch
	}
	bigFile := filepath.Join(data, "big")
	var acOut, bigCID string
	b.turns(i,
		func() { acOut = b.measure(loc+"/add big/ac", acEnv, b.ac("ac-add"), bigFile, "root/projects/big") },
		func() {
			bigCID = b.measure(loc+"/add big/kubo", ipfsEnv, b.ipfs, "add", "-Q", "--cid-version=1", "--offline", bigFile)
		},
		func() { b.measure(loc+"/add big/cp", nil, "cp", bigFile, filepath.Join(scratch, "cp-big")) },
	)
	if !strings.HasPrefix(acOut, bigCID+" ") {
		log.Fatalf("ac-add and ipfs add disagree on the big file's CID: %q vs %q", acOut, bigCID)
	}
	b.turns(i,
		func() {
			b.measure(loc+"/get big/ac", acEnv, b.ac("ac-get"), "root/projects/big", filepath.Join(scratch, "ac-big"))
		},
		func() {
			b.measure(loc+"/get big/kubo", ipfsEnv, b.ipfs, "get", "--offline", "-o", filepath.Join(scratch, "ipfs-big"), bigCID)
		},
		func() {
			b.measure(loc+"/get big/cp", nil, "cp", filepath.Join(scratch, "cp-big"), filepath.Join(scratch, "cp-big2"))
		},
	)
	return scratch
}

// measure runs a command, records its sample under key and returns its
// stdout, trimmed.
func (b *bench) measure(key string, env []string, name string, args ...string) string {
	s, out := run(env, name, args...)
	b.record(key, s)
	return strings.TrimSpace(out)
}

// turns runs the three measurements of a workload, starting in run i with
// the i-th: the disk's speed drifts during a run (a virtual disk slows
// down after sustained writes), so none of ac, kubo and cp always goes
// first.
func (b *bench) turns(i int, fs ...func()) {
	for k := range fs {
		fs[(i+k)%len(fs)]()
	}
}

// startup times commands that do almost nothing, 30 times each per run.
func (b *bench) startup(dir string, runs int) {
	scratch := filepath.Join(dir, "startup")
	must(os.RemoveAll(scratch))
	defer os.RemoveAll(scratch)
	acEnv := []string{"AC_HOME=" + filepath.Join(scratch, "ac"), "AC_API="}
	ipfsEnv := []string{"IPFS_PATH=" + filepath.Join(scratch, "ipfs")}
	run(acEnv, b.ac("ac-init"))
	run(acEnv, b.ac("ac-identity"), "new", "identities/alice")
	run(acEnv, b.ac("ac-node"), "new", "node", "identities/alice")
	run(ipfsEnv, b.ipfs, "init", "--profile=test")
	for i := 0; i < 30*runs; i++ {
		s, _ := run(acEnv, b.ac("ac-message"), "ref", "node")
		b.record("startup/ac-message ref node", s)
		s, _ = run(ipfsEnv, b.ipfs, "version")
		b.record("startup/ipfs version", s)
		s, _ = run(nil, b.ac("hello"))
		b.record("startup/hello world (Go)", s)
	}
}

// cp returns the results of cp (-r for trees) for a workload.
func (b *bench) cp(loc, workload string) *result {
	if r, ok := b.results[loc+"/"+workload+"/cp -r"]; ok {
		return r
	}
	return b.results[loc+"/"+workload+"/cp"]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// ratio is the median, over the runs, of other's time divided by ac's in
// the same run, with the smallest and largest of those ratios. The disk's
// speed drifts between runs far more than between two commands run one
// after the other, so a ratio is taken within a run, never across runs.
func ratio(ac, other *result, durable bool) string {
	var rs []float64
	for i := range min(len(ac.samples), len(other.samples)) {
		a, o := ac.samples[i].wall, other.samples[i].wall
		if durable {
			a, o = ac.samples[i].durable, other.samples[i].durable
		}
		rs = append(rs, float64(o)/float64(a))
	}
	sort.Float64s(rs)
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", rs[len(rs)/2], rs[0], rs[len(rs)-1])
}

func (b *bench) report(locations []struct{ name, dir string }) {
	workloads := []string{"add tree", "add big", "get tree", "get big"}
	fmt.Println("Medians of the times; ratios are medians of the ratios within each run, with their range.")
	fmt.Println()
	fmt.Println("| location | workload | ac | kubo | cp | kubo ÷ ac | cp ÷ ac | ac peak RSS | kubo peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, loc := range locations {
		for _, w := range workloads {
			ac, ok := b.results[loc.name+"/"+w+"/ac"]
			if !ok {
				continue
			}
			kubo, cp := b.results[loc.name+"/"+w+"/kubo"], b.cp(loc.name, w)
			a, k, c := ac.median(), kubo.median(), cp.median()
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %d MiB | %d MiB |\n", loc.name, w,
				ms(a.wall), ms(k.wall), ms(c.wall), ratio(ac, kubo, false), ratio(ac, cp, false), a.rss>>10, k.rss>>10)
		}
	}
	fmt.Println()
	fmt.Println("Until the data is on the disk (the command, then sync(2)):")
	fmt.Println()
	fmt.Println("| location | workload | ac | kubo | cp | kubo ÷ ac | cp ÷ ac |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, loc := range locations {
		if loc.name != "disk" {
			continue
		}
		for _, w := range workloads {
			ac, ok := b.results[loc.name+"/"+w+"/ac"]
			if !ok {
				continue
			}
			kubo, cp := b.results[loc.name+"/"+w+"/kubo"], b.cp(loc.name, w)
			a, k, c := ac.median(), kubo.median(), cp.median()
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", loc.name, w,
				ms(a.durable), ms(k.durable), ms(c.durable), ratio(ac, kubo, true), ratio(ac, cp, true))
		}
	}
	fmt.Println()
	fmt.Println("| start-up | median |")
	fmt.Println("|---|---|")
	for _, k := range []string{"startup/ac-message ref node", "startup/ipfs version", "startup/hello world (Go)"} {
		r := b.results[k]
		m := r.median()
		fmt.Printf("| %s | %.1f ms |\n", strings.TrimPrefix(k, "startup/"), float64(m.wall.Microseconds())/1000)
	}
}
