package main

// The blocking workloads: the Go twin of gort-bench/src/workloads/syscall.rs.
// Go's raw system calls go through entersyscall/exitsyscall, and sysmon
// hands off the P of one that runs long: the behaviour gort copies.

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	syscallShortCalls   = 200_000 // SHORT_CALLS
	syscallLongBlockers = 2       // LONG_BLOCKERS
	syscallLongCalls    = 50      // LONG_CALLS
	syscallLongWorkers  = 200     // LONG_WORKERS
	syscallLongYields   = 500     // LONG_YIELDS
	blockedPollBlock    = time.Second
	blockedPollTick     = 10 * time.Millisecond
)

var pidSink int

// syscall_short: syscallShortCalls getpid(2) calls from one goroutine. ns
// per call.
func syscallShort() roundResult {
	d := onGoroutine(false, func() time.Duration {
		start := time.Now()
		acc := 0
		for i := 0; i < syscallShortCalls; i++ {
			acc += syscall.Getpid()
		}
		pidSink = acc
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, syscallShortCalls)}
}

func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

// syscall_long: syscallLongBlockers goroutines each make syscallLongCalls
// 1 ms nanosleep(2) calls while syscallLongWorkers goroutines each yield
// syscallLongYields times. ns per yield of the other work.
func syscallLong() roundResult {
	d := onGoroutine(false, func() time.Duration {
		var blockers sync.WaitGroup
		blockers.Add(syscallLongBlockers)
		for i := 0; i < syscallLongBlockers; i++ {
			go func() {
				defer blockers.Done()
				for j := 0; j < syscallLongCalls; j++ {
					nanosleep(time.Millisecond)
					runtime.Gosched()
				}
			}()
		}
		var workers sync.WaitGroup
		workers.Add(syscallLongWorkers)
		start := time.Now()
		for i := 0; i < syscallLongWorkers; i++ {
			go func() {
				defer workers.Done()
				for j := 0; j < syscallLongYields; j++ {
					runtime.Gosched()
				}
			}()
		}
		workers.Wait()
		elapsed := time.Since(start)
		blockers.Wait()
		return elapsed
	})
	return roundResult{value: nsPerOp(d, syscallLongWorkers*syscallLongYields)}
}

// blocked_poll_latency: a goroutine ticks every 10 ms while another blocks
// in a 1 s nanosleep(2). The worst gap between ticks, in µs.
func blockedPollLatency() roundResult {
	var worst int64
	onGoroutine(false, func() time.Duration {
		var stop int32
		done := make(chan struct{})
		go func() {
			defer close(done)
			last := time.Now()
			for atomic.LoadInt32(&stop) == 0 {
				time.Sleep(blockedPollTick)
				now := time.Now()
				if gap := now.Sub(last).Microseconds(); gap > atomic.LoadInt64(&worst) {
					atomic.StoreInt64(&worst, gap)
				}
				last = now
			}
		}()
		time.Sleep(3 * blockedPollTick)
		atomic.StoreInt64(&worst, 0)
		blocked := make(chan struct{})
		go func() {
			nanosleep(blockedPollBlock)
			close(blocked)
		}()
		<-blocked
		atomic.StoreInt32(&stop, 1)
		<-done
		return 0
	})
	return roundResult{value: float64(atomic.LoadInt64(&worst))}
}
