package main

import (
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Operation counts. These mirror the Rust harness exactly; change both
// sides together.
const (
	spawnManyCount = 10_000
	yieldTasks     = 200
	yieldsPerTask  = 1_000
	pingPongPairs  = 1_000
	chainLength    = 1_000
	joinSetCount   = 10_000
	timerCount     = 100_000
	timerMinMs     = 1
	timerMaxMs     = 50 // inclusive
	timerSeed      = 42
	// timer_stop: the timeout a server arms per request and stops.
	timerStopTasks    = 64
	timerStopsPerTask = 5_000
	timerStopTimeout  = 30 * time.Second
	idleTaskCount     = 100_000
	idleSettleSleep   = 100 * time.Millisecond
)

// onGoroutine runs f on a fresh goroutine (optionally locked to its OS
// thread) and returns the duration f reports. Timing is taken inside the
// goroutine, so the cost of starting the driver itself is not measured.
func onGoroutine(lockThread bool, f func() time.Duration) time.Duration {
	res := make(chan time.Duration, 1)
	go func() {
		if lockThread {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		res <- f()
	}()
	return <-res
}

// spawnMany spawns spawnManyCount trivial goroutines from the current
// goroutine and waits until every one of them has run.
func spawnMany() time.Duration {
	var counter int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(spawnManyCount)
	for i := 0; i < spawnManyCount; i++ {
		go func() {
			atomic.AddInt64(&counter, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if atomic.LoadInt64(&counter) != spawnManyCount {
		fatalf("spawn_many: counter=%d", counter)
	}
	return d
}

// spawn_many_local: spawns issued from inside the runtime (a goroutine).
func spawnManyLocal() roundResult {
	d := onGoroutine(false, spawnMany)
	return roundResult{value: nsPerOp(d, spawnManyCount)}
}

// spawn_many_remote: Go has no thread outside its runtime; the closest
// analogue is a spawner goroutine locked to its own OS thread
// (runtime.LockOSThread), so that blocking in Wait parks a dedicated thread
// and hands the P off, as a foreign thread would.
func spawnManyRemote() roundResult {
	d := onGoroutine(true, spawnMany)
	return roundResult{value: nsPerOp(d, spawnManyCount)}
}

// yield_many: yieldTasks goroutines each call runtime.Gosched yieldsPerTask
// times.
func yieldMany() roundResult {
	d := onGoroutine(false, func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		wg.Add(yieldTasks)
		for i := 0; i < yieldTasks; i++ {
			go func() {
				for j := 0; j < yieldsPerTask; j++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, yieldTasks*yieldsPerTask)}
}

// ping_pong: pingPongPairs times, spawn a pair of goroutines that exchange
// a message there and back over unbuffered channels (A -> B, B -> A); wait
// until every goroutine of every pair has finished.
func pingPong() roundResult {
	d := onGoroutine(false, func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		wg.Add(2 * pingPongPairs)
		for i := 0; i < pingPongPairs; i++ {
			toB := make(chan int)
			toA := make(chan int)
			go func() { // A
				toB <- 1
				if v := <-toA; v != 2 {
					fatalf("ping_pong: got %d, want 2", v)
				}
				wg.Done()
			}()
			go func() { // B
				v := <-toB
				toA <- v + 1
				wg.Done()
			}()
		}
		wg.Wait()
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, pingPongPairs)}
}

// chained_spawn: goroutine i spawns goroutine i+1 and exits; the last one
// signals completion.
func chainedSpawn() roundResult {
	d := onGoroutine(false, func() time.Duration {
		done := make(chan struct{})
		var link func(n int)
		link = func(n int) {
			if n == 0 {
				close(done)
				return
			}
			go link(n - 1)
		}
		start := time.Now()
		go link(chainLength - 1) // chainLength goroutines in all
		<-done
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, chainLength)}
}

// joinset_join: joinSetCount goroutines each send their index to a
// results channel buffered for all of them, Go's idiom for a task group
// (what a JoinSet is in Rust); the spawner receives and sums every result.
func joinSetJoin() roundResult {
	var sum uint64
	d := onGoroutine(false, func() time.Duration {
		start := time.Now()
		results := make(chan uint64, joinSetCount)
		for i := 0; i < joinSetCount; i++ {
			go func(i uint64) { results <- i }(uint64(i))
		}
		sum = 0
		for i := 0; i < joinSetCount; i++ {
			sum += <-results
		}
		return time.Since(start)
	})
	if want := uint64(joinSetCount) * (joinSetCount - 1) / 2; sum != want {
		panic(fmt.Sprintf("joinset_join: sum %d, want %d", sum, want))
	}
	return roundResult{value: nsPerOp(d, joinSetCount)}
}

// timers: timerCount goroutines each sleep a uniformly random whole number
// of milliseconds in [timerMinMs, timerMaxMs] (fixed seed, same sequence
// every round) and record lateness = actual wake time - intended deadline,
// where the deadline is taken when the goroutine starts its sleep.
func timers() roundResult {
	rng := rand.New(rand.NewSource(timerSeed))
	durs := make([]time.Duration, timerCount)
	for i := range durs {
		durs[i] = time.Duration(timerMinMs+rng.Intn(timerMaxMs-timerMinMs+1)) * time.Millisecond
	}
	late := make([]int64, timerCount)

	d := onGoroutine(false, func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		wg.Add(timerCount)
		for i := 0; i < timerCount; i++ {
			go func(i int) {
				dur := durs[i]
				deadline := time.Now().Add(dur)
				time.Sleep(dur)
				late[i] = int64(time.Since(deadline))
				wg.Done()
			}(i)
		}
		wg.Wait()
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, timerCount), late: late}
}

// timerStop: timerStopTasks goroutines each, timerStopsPerTask times, arm
// a timerStopTimeout timer, yield, and stop it: the timeout a server arms
// per request and stops a moment later. The value is ns per stop.
func timerStop() roundResult {
	d := onGoroutine(false, func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		wg.Add(timerStopTasks)
		for i := 0; i < timerStopTasks; i++ {
			go func() {
				for j := 0; j < timerStopsPerTask; j++ {
					t := time.NewTimer(timerStopTimeout)
					runtime.Gosched()
					if !t.Stop() {
						fatalf("timer_stop: a 30 s timer fired")
					}
				}
				wg.Done()
			}()
		}
		wg.Wait()
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, timerStopTasks*timerStopsPerTask)}
}

// timer_burst_hog: timers that fire together while one of their goroutines
// hogs its P.
const (
	burstTasks = 10                    // BURST_TASKS
	burstDelay = 5 * time.Millisecond  // BURST_DELAY
	burstHog   = 50 * time.Millisecond // BURST_HOG
)

// timerBurstHog: burstTasks goroutines sleep until one shared deadline,
// burstDelay after the driver starts spawning them. The first of them to
// wake (decided at run time, by a compare-and-swap) computes for burstHog
// without blocking, spinning on the clock; every other one records its
// lateness, wake time - deadline, and ends. The value is the round's
// nearest-rank p99 lateness in ns of those that did not compute (with
// nine of them, the latest); their samples give go_p99_late_ns, as for
// timers.
func timerBurstHog() roundResult {
	lateAll := make([]int64, burstTasks)
	hog := int32(-1)
	onGoroutine(false, func() time.Duration {
		var wg sync.WaitGroup
		deadline := time.Now().Add(burstDelay)
		wg.Add(burstTasks)
		for i := 0; i < burstTasks; i++ {
			go func(i int) {
				defer wg.Done()
				time.Sleep(time.Until(deadline))
				woke := time.Now()
				if atomic.CompareAndSwapInt32(&hog, -1, int32(i)) {
					for start := time.Now(); time.Since(start) < burstHog; {
					}
					return
				}
				lateAll[i] = int64(woke.Sub(deadline))
			}(i)
		}
		wg.Wait()
		return 0
	})
	hogIndex := int(atomic.LoadInt32(&hog))
	if hogIndex < 0 {
		fatalf("timer_burst_hog: no goroutine computed")
	}
	late := make([]int64, 0, burstTasks-1)
	for i, l := range lateAll {
		if i != hogIndex {
			late = append(late, l)
		}
	}
	return roundResult{value: float64(percentile(late, 0.99)), late: late}
}
