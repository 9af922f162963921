// Command gortbench is the Go twin of the Rust benchmark harness
// (`cargo run --release -p gort-bench`). It runs the same workloads with
// the same operation counts on the Go runtime so the two schedulers can be
// compared side by side.
//
// Usage:
//
//	go run ./bench/go -procs N -rounds R [workload ...]
//
// For every selected workload it prints exactly one line to stdout:
//
//	workload=NAME procs=N go=X
//
// where X is the median over rounds of nanoseconds per operation (for
// idle_task_bytes and chan_idle_bytes: bytes per idle goroutine; for
// timer_burst_hog: ns of lateness). The timers and timer_burst_hog
// workloads add go_p99_late_ns=Y; http_hello adds go_rps=R go_p99_us=P (it
// needs wrk on PATH). All diagnostics go to stderr.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// roundResult is what one measured round of a workload produces.
type roundResult struct {
	// value is ns/op for timing workloads, bytes/goroutine for memory ones.
	value float64
	// late holds per-operation lateness samples (timers, timer_burst_hog).
	late []int64
	// extra holds further figures, printed as go_NAME=VALUE, each the
	// median over the rounds (http_hello: rps, p99_us).
	extra []extraField
}

// extraField is one further figure of a round.
type extraField struct {
	name  string
	value float64
}

type workload struct {
	name string
	// maxRounds caps the number of measured rounds (0: no cap).
	maxRounds int
	run       func() roundResult
}

var workloads = []workload{
	{name: "spawn_many_local", run: spawnManyLocal},
	{name: "spawn_many_remote", run: spawnManyRemote},
	{name: "yield_many", run: yieldMany},
	{name: "ping_pong", run: pingPong},
	{name: "chained_spawn", run: chainedSpawn},
	{name: "joinset_join", run: joinSetJoin},
	{name: "timers", maxRounds: 3, run: timers},
	{name: "timer_stop", run: timerStop},
	{name: "timer_burst_hog", run: timerBurstHog},
	{name: "idle_task_bytes", run: idleTaskBytes},
	{name: "chan_pingpong", run: chanPingPong},
	{name: "chan_mpmc", run: chanMPMC},
	{name: "chan_spsc_buffered", run: chanSPSCBuffered},
	{name: "select2", run: select2},
	{name: "select_uncontended", run: selectUncontended},
	{name: "chan_idle_bytes", run: chanIdleBytes},
	{name: "ctx_with_cancel", run: ctxWithCancel},
	{name: "ctx_cancel_tree", run: ctxCancelTree},
	{name: "syncmap_read90", run: syncMapRead90},
	{name: "syncmap_mixed50", run: syncMapMixed50},
	{name: "syncmap_range", run: syncMapRange},
	{name: "pool_get_put", run: poolGetPut},
	{name: "pool_get_put_contended", run: poolGetPutContended},
	{name: "mutex_contended", run: mutexContended},
	{name: "syscall_short", run: syscallShort},
	{name: "syscall_long", maxRounds: 5, run: syscallLong},
	{name: "blocked_poll_latency", maxRounds: 3, run: blockedPollLatency},
	{name: "tcp_echo", run: tcpEcho},
	{name: "tcp_rtt", run: tcpRtt},
	{name: "http_hello", maxRounds: 5, run: httpHello},
}

func main() {
	procs := flag.Int("procs", runtime.NumCPU(), "GOMAXPROCS to run with")
	rounds := flag.Int("rounds", 5, "measured rounds per workload (after one warm-up round)")
	idleChild := flag.Bool(idleChildFlag, false, "internal: measure one idle_task_bytes round in this process and print the result")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: gortbench -procs N -rounds R [workload ...]\nworkloads: %s\n", strings.Join(workloadNames(), " "))
		flag.PrintDefaults()
	}
	flag.Parse()

	if *procs < 1 {
		fatalf("-procs must be >= 1, got %d", *procs)
	}
	if *rounds < 1 {
		fatalf("-rounds must be >= 1, got %d", *rounds)
	}
	runtime.GOMAXPROCS(*procs)

	if *idleChild {
		// Child mode: one cold measurement in a fresh process.
		fmt.Fprintf(os.Stdout, "%d\n", idleTaskBytesInProcess())
		return
	}
	procsForChild = *procs

	selected, err := selectWorkloads(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		flag.Usage()
		os.Exit(2)
	}

	for _, w := range selected {
		n := *rounds
		if w.maxRounds > 0 && n > w.maxRounds {
			n = w.maxRounds
		}
		fmt.Fprintf(os.Stderr, "gortbench: %s: warm-up + %d rounds (GOMAXPROCS=%d)\n", w.name, n, *procs)
		results := runRounds(w, n)

		values := make([]float64, len(results))
		for i, r := range results {
			values[i] = r.value
		}
		med := median(values)
		fmt.Fprintf(os.Stderr, "gortbench: %s: rounds=%s median=%.0f\n", w.name, formatValues(values), med)

		line := fmt.Sprintf("workload=%s procs=%d go=%d", w.name, *procs, int64(med+0.5))
		mr := results[medianIndex(values)]
		if len(mr.late) > 0 {
			line += fmt.Sprintf(" go_p99_late_ns=%d", percentile(mr.late, 0.99))
		}
		// Each further figure: its median over the rounds, as gort-bench's.
		for _, e := range mr.extra {
			var per []float64
			for _, r := range results {
				for _, f := range r.extra {
					if f.name == e.name {
						per = append(per, f.value)
					}
				}
			}
			fmt.Fprintf(os.Stderr, "gortbench: %s: %s=%s\n", w.name, e.name, formatValues(per))
			line += fmt.Sprintf(" go_%s=%d", e.name, int64(math.Round(median(per))))
		}
		fmt.Fprintln(os.Stdout, line)
	}
}

// runRounds runs one unrecorded warm-up round and then n measured rounds.
func runRounds(w workload, n int) []roundResult {
	runtime.GC()
	w.run() // warm-up
	out := make([]roundResult, 0, n)
	for i := 0; i < n; i++ {
		// Start every round from a freshly collected heap so that a GC cycle
		// triggered by the previous round's garbage does not land in this one.
		runtime.GC()
		out = append(out, w.run())
	}
	return out
}

func selectWorkloads(names []string) ([]workload, error) {
	if len(names) == 0 {
		return workloads, nil
	}
	var out []workload
	for _, name := range names {
		found := false
		for _, w := range workloads {
			if w.name == name {
				out = append(out, w)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("gortbench: unknown workload %q", name)
		}
	}
	return out, nil
}

func workloadNames() []string {
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.name
	}
	return names
}

// median returns the median of xs (mean of the two middle values when the
// count is even).
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianIndex returns the index in xs of the median round (the lower of
// the two middle rounds when the count is even).
func medianIndex(xs []float64) int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	return idx[(len(idx)-1)/2]
}

// percentile returns the nearest-rank p-quantile of xs (0 if empty).
func percentile(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	rank := int(math.Ceil(float64(len(s))*p-1e-9)) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(s) {
		rank = len(s) - 1
	}
	return s[rank]
}

func formatValues(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func nsPerOp(d time.Duration, ops int) float64 {
	return float64(d.Nanoseconds()) / float64(ops)
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gortbench: "+format+"\n", args...)
	os.Exit(1)
}
