package main

// The sync.Pool workloads: pool_get_put and pool_get_put_contended. Twin of
// gort-bench/src/workloads/pool.rs: the same counts, the same object (a
// buffer of capacity 4096), the same definition of one operation.

import (
	"sync"
	"time"
)

const (
	poolOps     = 2_000_000 // operations per round, in all
	poolWorkers = 2         // workers of pool_get_put_contended
	poolBufCap  = 4096
)

// poolSink keeps the checksums alive so the loops are not optimised out.
var poolSink uint64

// newBufPool is a sync.Pool of *[]byte (a pointer, so Put does not
// allocate), warmed with one operation per worker before the clock starts.
func newBufPool(workers int) *sync.Pool {
	p := &sync.Pool{New: func() any {
		b := make([]byte, 0, poolBufCap)
		return &b
	}}
	for i := 0; i < workers; i++ {
		poolSink += uint64(poolOp(p, 0))
	}
	return p
}

// poolOp is one operation: get a buffer, clear it and write one byte, put
// it back. Returns the byte read back.
func poolOp(p *sync.Pool, v byte) byte {
	bp := p.Get().(*[]byte)
	b := append((*bp)[:0], v)
	*bp = b
	r := b[0]
	p.Put(bp)
	return r
}

func poolWorker(p *sync.Pool, ops int) uint64 {
	var sum uint64
	for i := 0; i < ops; i++ {
		v := byte(i)
		r := poolOp(p, v)
		if r != v {
			panic("pool: read back a different byte")
		}
		sum += uint64(r)
	}
	return sum
}

// poolRun runs poolOps operations on `workers` goroutines (1: the driver
// goroutine itself). ns per operation.
func poolRun(workers int) roundResult {
	p := newBufPool(workers)
	d := onGoroutine(false, func() time.Duration {
		if workers == 1 {
			start := time.Now()
			poolSink += poolWorker(p, poolOps)
			return time.Since(start)
		}
		var wg sync.WaitGroup
		sums := make([]uint64, workers)
		start := time.Now()
		for t := 0; t < workers; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				sums[t] = poolWorker(p, poolOps/workers)
			}(t)
		}
		wg.Wait()
		el := time.Since(start)
		for _, s := range sums {
			poolSink += s
		}
		return el
	})
	return roundResult{value: nsPerOp(d, poolOps)}
}

func poolGetPut() roundResult          { return poolRun(1) }
func poolGetPutContended() roundResult { return poolRun(poolWorkers) }
