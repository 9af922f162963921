package main

// The context workloads: the Go twin of gort-bench/src/workloads/context.rs.

import (
	"context"
	"time"
)

const (
	// ctxWithCancelOps is WITH_CANCEL_OPS.
	ctxWithCancelOps = 1_000_000
	// ctxTreeFanout is TREE_FANOUT.
	ctxTreeFanout = 10
	// ctxTrees is TREES.
	ctxTrees = 100
	// ctxTreeSize is TREE_SIZE: the root and three levels below it.
	ctxTreeSize = 1 + ctxTreeFanout + ctxTreeFanout*ctxTreeFanout + ctxTreeFanout*ctxTreeFanout*ctxTreeFanout
)

// ctx_with_cancel: under one cancellable parent, make a child and cancel
// it, ctxWithCancelOps times (the child joins and leaves the parent's
// children each time). ns per child.
func ctxWithCancel() roundResult {
	d := onGoroutine(false, func() time.Duration {
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		start := time.Now()
		for i := 0; i < ctxWithCancelOps; i++ {
			child, cancel := context.WithCancel(parent)
			cancel()
			if child.Err() == nil {
				fatalf("ctx_with_cancel: a cancelled child reports no error")
			}
		}
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, ctxWithCancelOps)}
}

// ctx_cancel_tree: build a root with ctxTreeFanout children, each with as
// many children, each with as many again; cancel the root; wait on every
// context's Done. ctxTrees trees per round; ns per context.
func ctxCancelTree() roundResult {
	d := onGoroutine(false, func() time.Duration {
		start := time.Now()
		for t := 0; t < ctxTrees; t++ {
			ctxs := make([]context.Context, 0, ctxTreeSize)
			cancels := make([]context.CancelFunc, 0, ctxTreeSize)
			root, cancel := context.WithCancel(context.Background())
			ctxs = append(ctxs, root)
			cancels = append(cancels, cancel)
			lo, hi := 0, 1
			for level := 0; level < 3; level++ {
				next := len(ctxs)
				for p := lo; p < hi; p++ {
					for i := 0; i < ctxTreeFanout; i++ {
						c, f := context.WithCancel(ctxs[p])
						ctxs = append(ctxs, c)
						cancels = append(cancels, f)
					}
				}
				lo, hi = next, len(ctxs)
			}
			cancels[0]()
			for _, c := range ctxs {
				<-c.Done()
			}
		}
		return time.Since(start)
	})
	return roundResult{value: nsPerOp(d, ctxTrees*ctxTreeSize)}
}
