// Command scale measures how the cost of the commands grows with the
// size of the home: the same commands in homes of N small files, for
// each N of -sizes, and in a home with one flat directory of -flat
// entries, in one run, printed as Markdown tables. It is what
// docs/BENCHMARKS.md quotes.
//
// The trees (bench/gen, fixed seed): N files of 1–200 bytes in
// directories of 1,000 files; the flat one is one directory. Each home
// is built once and its cheap commands run against it -runs times; the
// tables give the median time and the largest peak RSS of the runs.
// Commands that change the home (adding one file, the merge) run in a
// copy of it, made and removed around each run, untimed.
//
// For each N:
//
//   - ac-add of the tree into a new home, taking turns with cp -r of it;
//     the first run's home is alice's, the one the rows below measure.
//   - ac-cat of one file (checked against the file), ac-info (no path),
//     ac-ls of a 1,000-entry directory (checked: 1,000 names).
//   - ac-add of one new file: time, and the growth of the home's blocks/
//     directory (packs and their indexes).
//   - ac-export of alice's node, the whole tree, and the CAR's size.
//   - ac-export --since of 10 changed files: bob, alice's friend, merged
//     her exported tree into his home and changed 10 files in 10
//     directories; his export since her node, and the CAR's size.
//   - ac-merge-all of those 10 changes in alice's home, after she took his
//     CAR in (checked: 10 lines "M path").
//
// For the flat directory: ac-ls of it (checked: every name), ac-add of
// one file to it (time and bytes of blocks written) and ac-get of it
// (the first run's output checked by its number of files).
//
// The work directory should be on tmpfs: nothing syncs between commands.
// It is removed at the end unless -keep.
//
// Usage:
//
//	go run ./bench/scale [-dir /dev/shm/ac-scale] [-runs 3] [-sizes 10k,100k,1m] [-flat 500k] [-keep]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// filesPerDir is the size of every directory of the trees but the flat one.
const filesPerDir = 1000

// changes is how many files bob changes, each in its own directory.
const changes = 10

type sample struct {
	wall  time.Duration
	rss   int64 // KiB
	floor int64 // KiB, this program's own RSS when it started the command
}

// figure is one row's measurement in one home.
type figure struct {
	samples []sample
	bytes   int64 // bytes written or sent, where the row has them
}

// med is the median time and the largest peak RSS of the samples.
func (f *figure) med() sample {
	s := append([]sample(nil), f.samples...)
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	m := s[len(s)/2]
	for _, x := range f.samples {
		m.rss = max(m.rss, x.rss)
	}
	return m
}

type bench struct {
	dir, bin string
	keep     bool
	runs     int
	floor    int64 // KiB, the largest sample.floor
	// figures by home ("10000", "flat 500000") and row.
	figures map[string]map[string]*figure
}

func (b *bench) fatalf(format string, args ...any) {
	if !b.keep {
		os.RemoveAll(b.dir)
	}
	log.Fatalf(format, args...)
}

func (b *bench) must(err error) {
	if err != nil {
		b.fatalf("%v", err)
	}
}

// cmd describes one command to run: its home (AC_HOME, empty for none),
// stdin and stdout (files; none, and a scratch file, when empty) and
// arguments.
type cmd struct {
	home, stdin, stdout string
	args                []string
}

func ac(home string, args ...string) cmd { return cmd{home: home, args: args} }

// run runs c and returns its wall time, peak RSS and the file that holds
// its stdout. Any failure ends the benchmark: a figure of a failed command
// is no figure.
//
// A child's peak RSS on Linux is at least this program's own at the time
// it started the child (the vfork shares the memory, and exec keeps its
// high-water mark), so this program never holds a command's output: it
// goes to a file, read back only when small.
func (b *bench) run(c cmd) (sample, string) {
	name := c.args[0]
	if strings.HasPrefix(name, "ac-") {
		name = filepath.Join(b.bin, name)
	}
	x := exec.Command(name, c.args[1:]...)
	x.Env = append(os.Environ(), "AC_HOME="+c.home, "AC_API=")
	if c.stdin != "" {
		f, err := os.Open(c.stdin)
		b.must(err)
		defer f.Close()
		x.Stdin = f
	}
	outPath := c.stdout
	if outPath == "" {
		outPath = filepath.Join(b.dir, "stdout")
	}
	out, err := os.Create(outPath)
	b.must(err)
	defer out.Close()
	var errb bytes.Buffer
	x.Stdout, x.Stderr = out, &errb
	floor := b.selfRSS()
	start := time.Now()
	err = x.Run()
	wall := time.Since(start)
	if err != nil {
		b.fatalf("%s: %v\n%s", strings.Join(c.args, " "), err, errb.String())
	}
	ru := x.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: wall, rss: ru.Maxrss, floor: floor}, outPath
}

// selfRSS is this program's resident set in KiB.
func (b *bench) selfRSS() int64 {
	statm, err := os.ReadFile("/proc/self/statm")
	b.must(err)
	var size, resident int64
	_, err = fmt.Sscan(string(statm), &size, &resident)
	b.must(err)
	return resident * int64(os.Getpagesize()) >> 10
}

// small reads a command's output of at most 64 KiB.
func (b *bench) small(path string) []byte {
	f, err := os.Open(path)
	b.must(err)
	defer f.Close()
	out, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	b.must(err)
	if len(out) > 64<<10 {
		b.fatalf("%s: more output than expected", path)
	}
	return out
}

// lines counts the lines of a command's output.
func (b *bench) lines(path string) int {
	f, err := os.Open(path)
	b.must(err)
	defer f.Close()
	n, buf := 0, make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte("\n"))
		if err == io.EOF {
			return n
		}
		b.must(err)
	}
}

// entries counts the entries of a directory, a few at a time.
func (b *bench) entries(dir string) int {
	f, err := os.Open(dir)
	b.must(err)
	defer f.Close()
	n := 0
	for {
		ents, err := f.ReadDir(1024)
		n += len(ents)
		if err == io.EOF {
			return n
		}
		b.must(err)
	}
}

// fileSize is the size of a file.
func (b *bench) fileSize(path string) int64 {
	info, err := os.Stat(path)
	b.must(err)
	return info.Size()
}

// measure runs c, records the sample under home and row and returns the
// file that holds its stdout.
func (b *bench) measure(home, row string, c cmd) string {
	s, out := b.run(c)
	f := b.fig(home, row)
	f.samples = append(f.samples, s)
	b.floor = max(b.floor, s.floor)
	log.Printf("%s: %s: %s, %d MiB (floor %d MiB)", home, row, ms(s.wall), s.rss>>10, s.floor>>10)
	return out
}

func (b *bench) fig(home, row string) *figure {
	rows, ok := b.figures[home]
	if !ok {
		rows = map[string]*figure{}
		b.figures[home] = rows
	}
	f, ok := rows[row]
	if !ok {
		f = &figure{}
		rows[row] = f
	}
	return f
}

// setBytes records the bytes of a row, the same in every run.
func (b *bench) setBytes(home, row string, n int64) {
	f := b.fig(home, row)
	if len(f.samples) > 1 && f.bytes != n {
		b.fatalf("%s: %s: %d bytes in this run, %d in the one before", home, row, n, f.bytes)
	}
	f.bytes = n
}

// size is the number of bytes of the files under dir.
func (b *bench) size(dir string) int64 {
	var n int64
	b.must(filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	}))
	return n
}

// copyHome copies a home for a run that changes it.
func (b *bench) copyHome(from, to string) {
	b.must(os.RemoveAll(to))
	b.run(cmd{args: []string{"cp", "-a", from, to}})
}

// gen writes a tree of dirs directories of files files of 1–200 bytes.
func (b *bench) gen(dir string, dirs, files int) {
	b.run(cmd{args: []string{filepath.Join(b.bin, "gen"), "-tree", dir,
		"-dirs", fmt.Sprint(dirs), "-files", fmt.Sprint(files), "-min", "1", "-max", "200"}})
}

// genName is the name bench/gen gives file f of directory d.
func genName(d, f int) string { return fmt.Sprintf("dir%03d/file%03d.bin", d, f) }

// nodeCID is the CID of the node at path in home.
func (b *bench) nodeCID(home, path string) string {
	_, out := b.run(ac(home, "ac-info", "--json", path))
	var info struct{ CID string }
	b.must(json.Unmarshal(b.small(out), &info))
	return info.CID
}

// to sends c's stdout to path.
func (c cmd) to(path string) cmd {
	c.stdout = path
	return c
}

// sized measures the homes of n files.
func (b *bench) sized(n int) {
	key := fmt.Sprint(n)
	work := filepath.Join(b.dir, key)
	b.must(os.MkdirAll(work, 0o755))
	if !b.keep {
		defer os.RemoveAll(work)
	}
	dirs := n / filesPerDir
	tree := filepath.Join(work, "tree")
	log.Printf("%s: writing the tree", key)
	b.gen(tree, dirs, filesPerDir)

	alice := filepath.Join(work, "alice")
	for i := range b.runs {
		home := alice
		if i > 0 {
			home = filepath.Join(work, "add")
		}
		cp := filepath.Join(work, "cp")
		turns(i,
			func() {
				b.run(ac(home, "ac-init"))
				out := b.small(b.measure(key, "add tree", ac(home, "ac-add", tree, "root/tree")))
				if !bytes.Contains(out, []byte(fmt.Sprintf(" (%d files, ", n))) {
					b.fatalf("ac-add of the tree of %d files printed %q", n, out)
				}
			},
			func() { b.measure(key, "cp -r", cmd{args: []string{"cp", "-r", tree, cp}}) },
		)
		b.must(os.RemoveAll(cp))
		if home != alice {
			b.must(os.RemoveAll(home))
		}
	}

	log.Printf("%s: alice publishes, bob merges her tree and changes %d files", key, changes)
	bob := filepath.Join(work, "bob")
	file := func(name string) string { return filepath.Join(work, name) }
	b.run(ac(alice, "ac-identity", "new", "identities/alice"))
	b.run(ac(alice, "ac-node", "new", "node", "identities/alice"))
	b.run(ac(alice, "ac-message", "ref", "identities/alice").to(file("alice.id")))
	b.run(ac(alice, "ac-message", "ref", "node").to(file("alice.ref")))
	for range b.runs {
		b.setBytes(key, "export", b.fileSize(b.measure(key, "export", ac(alice, "ac-export", "node").to(file("alice.car")))))
	}
	aliceNode := b.nodeCID(alice, "node")
	b.run(ac(bob, "ac-init"))
	b.run(ac(bob, "ac-identity", "new", "identities/bob"))
	b.run(cmd{home: bob, stdin: file("alice.id"), args: []string{"ac-friend", "add"}})
	b.run(cmd{home: bob, stdin: file("alice.car"), args: []string{"ac-import"}})
	b.run(cmd{home: bob, stdin: file("alice.ref"), args: []string{"ac-node", "add"}})
	b.run(ac(bob, "ac-merge-all"))
	r := rand.New(rand.NewSource(1))
	var want []string
	for _, d := range r.Perm(dirs)[:min(changes, dirs)] {
		p := genName(d, r.Intn(filesPerDir))
		b.must(os.WriteFile(file("changed"), []byte("bob changed "+p+"\n"), 0o644))
		b.run(ac(bob, "ac-add", file("changed"), "root/tree/"+p))
		want = append(want, "M root/tree/"+p)
	}
	sort.Strings(want)
	b.run(ac(bob, "ac-node", "new", "node", "identities/bob"))
	b.run(ac(bob, "ac-message", "ref", "identities/bob").to(file("bob.id")))
	b.run(ac(bob, "ac-message", "ref", "node").to(file("bob.ref")))
	for range b.runs {
		since := ac(bob, "ac-export", "--since", aliceNode, "node").to(file("bob.car"))
		b.setBytes(key, "export since", b.fileSize(b.measure(key, "export since", since)))
	}
	b.must(os.RemoveAll(bob))
	b.run(cmd{home: alice, stdin: file("bob.id"), args: []string{"ac-friend", "add"}})
	b.run(cmd{home: alice, stdin: file("bob.car"), args: []string{"ac-import"}})
	b.run(cmd{home: alice, stdin: file("bob.ref"), args: []string{"ac-node", "add"}})

	log.Printf("%s: the commands in alice's home", key)
	catPath := genName(0, 0)
	wantCat, err := os.ReadFile(filepath.Join(tree, catPath))
	b.must(err)
	scratch := filepath.Join(work, "scratch")
	b.must(os.WriteFile(file("new"), []byte("a new file\n"), 0o644))
	for range b.runs {
		if out := b.small(b.measure(key, "cat", ac(alice, "ac-cat", "root/tree/"+catPath))); !bytes.Equal(out, wantCat) {
			b.fatalf("ac-cat root/tree/%s printed %q, want %q", catPath, out, wantCat)
		}
		if out := b.small(b.measure(key, "info", ac(alice, "ac-info"))); !bytes.Contains(out, []byte("\nhead: ")) {
			b.fatalf("ac-info printed no head: %q", out)
		}
		if k := b.lines(b.measure(key, "ls", ac(alice, "ac-ls", "root/tree/dir000"))); k != filesPerDir {
			b.fatalf("ac-ls root/tree/dir000 printed %d lines, want %d", k, filesPerDir)
		}
		b.addOne(key, alice, scratch, file("new"), "root/tree/dir000/new.bin")
		b.copyHome(alice, scratch)
		out := b.small(b.measure(key, "merge", ac(scratch, "ac-merge-all")))
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			b.fatalf("ac-merge-all printed %q, want %q", got, want)
		}
		b.must(os.RemoveAll(scratch))
	}
}

// addOne measures ac-add of one file to dest in a copy of home, and the
// bytes of blocks it wrote.
func (b *bench) addOne(key, home, scratch, file, dest string) {
	b.copyHome(home, scratch)
	before := b.size(filepath.Join(scratch, "blocks"))
	b.measure(key, "add one", ac(scratch, "ac-add", file, dest))
	b.setBytes(key, "add one", b.size(filepath.Join(scratch, "blocks"))-before)
	b.must(os.RemoveAll(scratch))
}

// flat measures the home with one directory of n files.
func (b *bench) flat(n int) {
	key := fmt.Sprintf("flat %d", n)
	work := filepath.Join(b.dir, "flat")
	b.must(os.MkdirAll(work, 0o755))
	if !b.keep {
		defer os.RemoveAll(work)
	}
	log.Printf("%s: writing the tree", key)
	tree := filepath.Join(work, "tree")
	b.gen(tree, 1, n)
	home := filepath.Join(work, "home")
	b.run(ac(home, "ac-init"))
	b.measure(key, "add tree", ac(home, "ac-add", filepath.Join(tree, "dir000"), "root/flat"))
	b.must(os.WriteFile(filepath.Join(work, "new"), []byte("a new file\n"), 0o644))
	get := filepath.Join(work, "get")
	for i := range b.runs {
		if k := b.lines(b.measure(key, "ls", ac(home, "ac-ls", "root/flat"))); k != n {
			b.fatalf("ac-ls root/flat printed %d lines, want %d", k, n)
		}
		b.addOne(key, home, filepath.Join(work, "scratch"), filepath.Join(work, "new"), "root/flat/new.bin")
		b.measure(key, "get", ac(home, "ac-get", "root/flat", get))
		if i == 0 {
			if k := b.entries(get); k != n {
				b.fatalf("ac-get root/flat wrote %d files, want %d", k, n)
			}
		}
		b.must(os.RemoveAll(get))
	}
}

// turns runs the measurements of a workload, starting in run i with the
// i-th, so that none always goes first.
func turns(i int, fs ...func()) {
	for k := range fs {
		fs[(i+k)%len(fs)]()
	}
}

// parseCount reads 10000, 10k or 1m.
func parseCount(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1000, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1000000, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count such as 10000, 10k or 1m", s)
	}
	return n * mult, nil
}

func ms(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
}

// mib prints a peak RSS in KiB.
func mib(kib int64) string {
	if kib >= 1<<20 {
		return fmt.Sprintf("%.2f GiB", float64(kib)/(1<<20))
	}
	return fmt.Sprintf("%d MiB", kib>>10)
}

// thousands prints n with commas.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ratio is the median, over the runs, of other's time divided by ac's in
// the same run.
func ratio(ac, other *figure) string {
	var rs []float64
	for i := range min(len(ac.samples), len(other.samples)) {
		rs = append(rs, float64(other.samples[i].wall)/float64(ac.samples[i].wall))
	}
	sort.Float64s(rs)
	return fmt.Sprintf("%.2f×", rs[len(rs)/2])
}

func (b *bench) report(sizes []int, flat int) {
	fmt.Printf("Medians of %d runs; peak RSS is the largest of the runs. A command's peak RSS cannot be below\n", b.runs)
	fmt.Printf("this program's RSS when it started it, which was at most %d MiB.\n", b.floor>>10)
	if len(sizes) > 0 {
		fmt.Println()
		fmt.Print("| |")
		for _, n := range sizes {
			fmt.Printf(" N = %s |", thousands(int64(n)))
		}
		fmt.Print("\n|---|")
		for range sizes {
			fmt.Print("---|")
		}
		fmt.Println()
		row := func(title string, cell func(rows map[string]*figure) string) {
			fmt.Printf("| %s |", title)
			for _, n := range sizes {
				fmt.Printf(" %s |", cell(b.figures[fmt.Sprint(n)]))
			}
			fmt.Println()
		}
		timeRSS := func(r string) func(map[string]*figure) string {
			return func(rows map[string]*figure) string {
				m := rows[r].med()
				return ms(m.wall) + ", " + mib(m.rss)
			}
		}
		bytesOf := func(r string) func(map[string]*figure) string {
			return func(rows map[string]*figure) string { return thousands(rows[r].bytes) + " B" }
		}
		row("`ac-cat` of one file", timeRSS("cat"))
		row("`ac-info` (no path)", timeRSS("info"))
		row("`ac-ls` of a 1,000-entry directory", timeRSS("ls"))
		row("`ac-add` of one new file", timeRSS("add one"))
		row("blocks written by `ac-add` of one new file", bytesOf("add one"))
		row("`ac-export` of the tree", timeRSS("export"))
		row("its CAR", bytesOf("export"))
		row(fmt.Sprintf("`ac-merge-all` of %d changed files", changes), timeRSS("merge"))
		row(fmt.Sprintf("`ac-export --since` of those %d changes", changes), timeRSS("export since"))
		row("the `--since` CAR", bytesOf("export since"))
		row("`ac-add` of the tree", timeRSS("add tree"))
		row("`cp -r` of the tree", func(rows map[string]*figure) string { return ms(rows["cp -r"].med().wall) })
		row("`cp -r` ÷ `ac-add` (median of the ratios within a run)", func(rows map[string]*figure) string {
			return ratio(rows["add tree"], rows["cp -r"])
		})
	}
	if flat > 0 {
		rows := b.figures[fmt.Sprintf("flat %d", flat)]
		fmt.Println()
		fmt.Printf("| one flat directory of %s entries | time | peak RSS | blocks written |\n", thousands(int64(flat)))
		fmt.Println("|---|---|---|---|")
		for _, r := range []struct{ title, row string }{
			{"`ac-add` of the directory (one run)", "add tree"},
			{"`ac-ls` of it", "ls"},
			{"`ac-add` of one file to it", "add one"},
			{"`ac-get` of it", "get"},
		} {
			m := rows[r.row].med()
			written := ""
			if r.row == "add one" {
				written = thousands(rows[r.row].bytes) + " B"
			}
			fmt.Printf("| %s | %s | %s | %s |\n", r.title, ms(m.wall), mib(m.rss), written)
		}
	}
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("scale: ")
	dir := flag.String("dir", "/dev/shm/ac-scale", "work `dir`, on tmpfs")
	runs := flag.Int("runs", 3, "repetitions of each measurement")
	sizesFlag := flag.String("sizes", "10k,100k,1m", "comma-separated numbers of files of the homes (none: \"\")")
	flatFlag := flag.String("flat", "500k", "entries of the flat directory (0: skip it)")
	keep := flag.Bool("keep", false, "keep the work dir")
	flag.Parse()
	if flag.NArg() != 0 || *runs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		if s == "" {
			continue
		}
		n, err := parseCount(s)
		if err != nil || n == 0 || n%filesPerDir != 0 {
			log.Printf("-sizes: %q is not a positive multiple of %d files", s, filesPerDir)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	flat, err := parseCount(*flatFlag)
	if err != nil {
		log.Printf("-flat: %v", err)
		os.Exit(2)
	}

	b := &bench{dir: *dir, bin: filepath.Join(*dir, "bin"), keep: *keep, runs: *runs, figures: map[string]map[string]*figure{}}
	b.must(os.RemoveAll(b.dir))
	b.must(os.MkdirAll(b.dir, 0o755))
	log.Printf("building the commands")
	b.run(cmd{args: []string{"go", "build", "-o", b.bin + "/", "./tools/...", "./bench/gen"}})
	for _, n := range sizes {
		b.sized(n)
	}
	if flat > 0 {
		b.flat(flat)
	}
	b.report(sizes, flat)
	if !b.keep {
		b.must(os.RemoveAll(b.dir))
	}
}
