package main

import (
	"sync"
	"time"
)

// Channel workload counts. These mirror gort-bench/src/workloads/chan.rs
// exactly; change both sides together.
const (
	chanPingPongTrips      = 50_000
	chanMPMCProducers      = 4
	chanMPMCConsumers      = 4
	chanMPMCCap            = 1024
	chanMPMCMessages       = 4_000_000 // in all, split evenly among the producers
	chanSPSCCap            = 1024
	chanSPSCMessages       = 1_000_000
	select2Cap             = 16
	select2Messages        = 1_000_000 // in all, half from each producer
	selectUncontendedCount = 1_000_000
)

// tally is what a consumer received: how many values, and their sum.
type tally struct {
	count int
	sum   uint64
}

func (t *tally) add(v uint64) {
	t.count++
	t.sum += v
}

func (t tally) merge(o tally) tally {
	return tally{count: t.count + o.count, sum: t.sum + o.sum}
}

// check exits unless t is exactly what producers producers each sending
// 0..perProducer-1 deliver.
func (t tally) check(workload string, producers, perProducer int) {
	n := uint64(perProducer)
	want := tally{count: producers * perProducer}
	if n > 0 {
		want.sum = uint64(producers) * (n * (n - 1) / 2)
	}
	if t != want {
		fatalf("%s: a message was lost or duplicated: got %+v, want %+v", workload, t, want)
	}
}

// produce sends 0..count-1 on ch.
func produce(ch chan<- uint64, count int) {
	for v := 0; v < count; v++ {
		ch <- uint64(v)
	}
}

// consume receives from ch until it is closed and drained.
func consume(ch <-chan uint64) tally {
	var t tally
	for v := range ch {
		t.add(v)
	}
	return t
}

// chan_pingpong: the driver sends i on an unbuffered channel and a second
// goroutine answers i+1 on another, the driver waiting for each answer
// before the next send; chanPingPongTrips round trips. ns per round trip.
func chanPingPong() roundResult {
	d := onGoroutine(false, func() time.Duration {
		ping := make(chan uint64)
		pong := make(chan uint64)
		done := make(chan struct{})
		start := time.Now()
		go func() {
			for v := range ping {
				pong <- v + 1
			}
			close(done)
		}()
		for i := uint64(0); i < chanPingPongTrips; i++ {
			ping <- i
			if v := <-pong; v != i+1 {
				fatalf("chan_pingpong: got %d, want %d", v, i+1)
			}
		}
		d := time.Since(start)
		close(ping)
		<-done
		return d
	})
	return roundResult{value: nsPerOp(d, chanPingPongTrips)}
}

// chan_mpmc: chanMPMCProducers goroutines send chanMPMCMessages in all on
// one channel of capacity chanMPMCCap, which chanMPMCConsumers goroutines
// drain. The driver closes the channel once every producer has finished
// (the Rust side closes it when the last sender is dropped). ns per
// message.
func chanMPMC() roundResult {
	perProducer := chanMPMCMessages / chanMPMCProducers
	var t tally
	d := onGoroutine(false, func() time.Duration {
		ch := make(chan uint64, chanMPMCCap)
		results := make(chan tally, chanMPMCConsumers)
		var producers sync.WaitGroup
		start := time.Now()
		for i := 0; i < chanMPMCConsumers; i++ {
			go func() { results <- consume(ch) }()
		}
		producers.Add(chanMPMCProducers)
		for i := 0; i < chanMPMCProducers; i++ {
			go func() {
				produce(ch, perProducer)
				producers.Done()
			}()
		}
		producers.Wait()
		close(ch)
		for i := 0; i < chanMPMCConsumers; i++ {
			t = t.merge(<-results)
		}
		return time.Since(start)
	})
	t.check("chan_mpmc", chanMPMCProducers, perProducer)
	return roundResult{value: nsPerOp(d, chanMPMCMessages)}
}

// chan_spsc_buffered: a goroutine sends chanSPSCMessages on a channel of
// capacity chanSPSCCap and closes it; the driver receives them. ns per
// message.
func chanSPSCBuffered() roundResult {
	var t tally
	d := onGoroutine(false, func() time.Duration {
		ch := make(chan uint64, chanSPSCCap)
		start := time.Now()
		go func() {
			produce(ch, chanSPSCMessages)
			close(ch)
		}()
		t = consume(ch)
		return time.Since(start)
	})
	t.check("chan_spsc_buffered", 1, chanSPSCMessages)
	return roundResult{value: nsPerOp(d, chanSPSCMessages)}
}

// select2: two producer goroutines each send half of select2Messages on a
// channel of their own (capacity select2Cap) and close it; the driver
// receives them all through one select over both, setting a channel to nil
// (disabling its case) once it is closed and drained, until both are. ns
// per message.
func select2() roundResult {
	half := select2Messages / 2
	var t tally
	d := onGoroutine(false, func() time.Duration {
		a := make(chan uint64, select2Cap)
		b := make(chan uint64, select2Cap)
		start := time.Now()
		for _, ch := range []chan uint64{a, b} {
			go func(ch chan uint64) {
				produce(ch, half)
				close(ch)
			}(ch)
		}
		for a != nil || b != nil {
			select {
			case v, ok := <-a:
				if !ok {
					a = nil
					continue
				}
				t.add(v)
			case v, ok := <-b:
				if !ok {
					b = nil
					continue
				}
				t.add(v)
			}
		}
		return time.Since(start)
	})
	t.check("select2", 2, half)
	return roundResult{value: nsPerOp(d, select2Messages)}
}

// select_uncontended: one goroutine, selectUncontendedCount times: put a
// value in a channel of capacity 1 with a non-blocking send (Rust's
// try_send), then select over that channel and an unbuffered one that
// never has data; the first case always wins. ns per select (the send
// included).
func selectUncontended() roundResult {
	var sum uint64
	d := onGoroutine(false, func() time.Duration {
		a := make(chan uint64, 1)
		idle := make(chan uint64)
		start := time.Now()
		for i := uint64(0); i < selectUncontendedCount; i++ {
			select {
			case a <- i:
			default:
				fatalf("select_uncontended: the capacity-1 channel is full")
			}
			select {
			case v := <-a:
				sum += v
			case v := <-idle:
				fatalf("select_uncontended: the idle channel delivered %d", v)
			}
		}
		return time.Since(start)
	})
	tally{count: selectUncontendedCount, sum: sum}.check("select_uncontended", 1, selectUncontendedCount)
	return roundResult{value: nsPerOp(d, selectUncontendedCount)}
}

// chan_idle_bytes is idle_task_bytes itself: Go's idle goroutines already
// wait on a receive from their own unbuffered channel (and are released by
// closing it, as the Rust side releases gort's by dropping the sender).
func chanIdleBytes() roundResult {
	return idleTaskBytes()
}
