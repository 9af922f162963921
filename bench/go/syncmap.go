package main

// The sync.Map workloads: syncmap_read90, syncmap_mixed50, syncmap_range.
// Twin of gort-bench/src/workloads/syncmap.rs: the same counts, the same
// xorshift64 sequences, the same definition of one operation.

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const (
	syncMapKeys    = 10_000
	syncMapOps     = 2_000_000 // loads and stores in all, split over the workers
	syncMapWorkers = 2
	syncMapRanges  = 200 // whole-map ranges per syncmap_range round
)

// syncMapSink keeps the checksums alive so the loops are not optimised out.
var syncMapSink uint64

func xorshift64(x *uint64) uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return *x
}

// syncMapFilled returns a map with keys 0..syncMapKeys (value = key),
// ranged over once: that promotes the dirty map, as on the Rust side.
func syncMapFilled() *sync.Map {
	m := new(sync.Map)
	for k := uint64(0); k < syncMapKeys; k++ {
		m.Store(k, k)
	}
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	if n != syncMapKeys {
		fmt.Fprintf(os.Stderr, "gortbench: syncmap fill: %d keys, want %d\n", n, syncMapKeys)
		os.Exit(1)
	}
	return m
}

// syncMapMix runs syncMapOps operations on two goroutines: worker t draws
// r from xorshift64 seeded t+1, uses key r%syncMapKeys, and stores r if
// (r>>32)%100 < storePct, else loads. ns per operation.
func syncMapMix(storePct uint64) roundResult {
	m := syncMapFilled()
	d := onGoroutine(false, func() time.Duration {
		var wg sync.WaitGroup
		sums := make([]uint64, syncMapWorkers)
		start := time.Now()
		for t := 0; t < syncMapWorkers; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				x := uint64(t + 1)
				var sum uint64
				for i := 0; i < syncMapOps/syncMapWorkers; i++ {
					r := xorshift64(&x)
					k := r % syncMapKeys
					if (r>>32)%100 < storePct {
						m.Store(k, r)
					} else {
						v, ok := m.Load(k)
						if !ok {
							panic("syncmap: a key is missing")
						}
						sum += v.(uint64)
					}
				}
				sums[t] = sum
			}(t)
		}
		wg.Wait()
		el := time.Since(start)
		for _, s := range sums {
			syncMapSink += s
		}
		return el
	})
	return roundResult{value: nsPerOp(d, syncMapOps)}
}

func syncMapRead90() roundResult  { return syncMapMix(10) }
func syncMapMixed50() roundResult { return syncMapMix(50) }

// syncMapRange ranges over the whole map syncMapRanges times, summing the
// values. ns per visited entry.
func syncMapRange() roundResult {
	m := syncMapFilled()
	d := onGoroutine(false, func() time.Duration {
		var sum uint64
		start := time.Now()
		for i := 0; i < syncMapRanges; i++ {
			n := 0
			m.Range(func(_, v any) bool {
				sum += v.(uint64)
				n++
				return true
			})
			if n != syncMapKeys {
				panic("syncmap_range: a range missed keys")
			}
		}
		el := time.Since(start)
		syncMapSink += sum
		return el
	})
	return roundResult{value: nsPerOp(d, syncMapRanges*syncMapKeys)}
}
