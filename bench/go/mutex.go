package main

import (
	"sync"
	"time"
)

// Mutex workload counts. These mirror gort-bench/src/workloads/mutex.rs
// exactly; change both sides together.
const (
	mutexTasks = 4
	mutexLocks = 1_000_000 // in all, split evenly among the goroutines
)

// mutex_contended: mutexTasks goroutines each lock a shared sync.Mutex,
// increment a plain counter and unlock, mutexLocks times in all. ns per lock.
func mutexContended() roundResult {
	perTask := mutexLocks / mutexTasks
	var counter uint64
	d := onGoroutine(false, func() time.Duration {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		wg.Add(mutexTasks)
		for i := 0; i < mutexTasks; i++ {
			go func() {
				defer wg.Done()
				for j := 0; j < perTask; j++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	})
	if counter != mutexLocks {
		fatalf("mutex_contended: an increment was lost: %d of %d", counter, mutexLocks)
	}
	return roundResult{value: nsPerOp(d, mutexLocks)}
}
