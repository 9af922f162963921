package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// idleChildFlag is the hidden flag that makes this binary measure a single
// idle_task_bytes round and print the result.
const idleChildFlag = "idle-child"

// procsForChild is the -procs value handed to idle_task_bytes child
// processes.
var procsForChild = 1

// idle_task_bytes: resident memory per parked goroutine.
//
// Each round runs in a fresh child process (this binary re-executed with
// -idle-child). In-process rounds would be meaningless after the first:
// the Go runtime keeps dead goroutines' g structs (and, until a GC frees
// them, their stacks) on free lists and reuses them, and it does not
// promptly return freed heap pages to the OS, so later rounds would show
// almost no RSS growth. If re-executing fails we fall back to measuring
// in-process and say so on stderr.
func idleTaskBytes() roundResult {
	exe, err := os.Executable()
	if err == nil {
		var stdout bytes.Buffer
		cmd := exec.Command(exe, "-procs", strconv.Itoa(procsForChild), "-"+idleChildFlag)
		cmd.Stdout = &stdout
		cmd.Stderr = os.Stderr
		if err = cmd.Run(); err == nil {
			var v int64
			v, err = strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
			if err == nil {
				return roundResult{value: float64(v)}
			}
		}
	}
	fmt.Fprintf(os.Stderr, "gortbench: idle_task_bytes: child process failed (%v); measuring in-process (later rounds will under-report)\n", err)
	return roundResult{value: float64(idleTaskBytesInProcess())}
}

// idleTaskBytesInProcess starts idleTaskCount goroutines each parked on a
// receive from its own unbuffered channel and returns the RSS growth per
// goroutine in bytes. It then releases them all and waits for them to exit.
func idleTaskBytesInProcess() int64 {
	chans := make([]chan struct{}, idleTaskCount)
	var started, exited sync.WaitGroup

	runtime.GC()
	before := rssBytes()

	started.Add(idleTaskCount)
	exited.Add(idleTaskCount)
	for i := range chans {
		ch := make(chan struct{})
		chans[i] = ch
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	time.Sleep(idleSettleSleep) // let every goroutine reach its receive
	runtime.GC()
	after := rssBytes()

	for _, ch := range chans {
		close(ch)
	}
	exited.Wait()

	return (after - before) / idleTaskCount
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fatalf("idle_task_bytes: %v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		fatalf("idle_task_bytes: unexpected /proc/self/statm: %q", data)
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		fatalf("idle_task_bytes: %v", err)
	}
	return pages * int64(os.Getpagesize())
}
