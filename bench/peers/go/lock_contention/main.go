// lock_contention — Go peer of bench/lock_contention.c: 8 goroutines each
// acquire and release one sync.Mutex N times (default 100,000), incrementing a
// counter the mutex protects.  Result: wall time of the round / (8*N), in
// ns/op, median of the repetitions after one warm-up round of N/10.  Checks
// the counter.  sync.Mutex is not FIFO (a running goroutine may barge in;
// it switches to FIFO "starvation mode" only after a waiter waited > 1 ms), so
// the '#' line with the spread of the goroutines' finishing times (fraction of
// the round) shows how unfair it was, like the C program's line for weft.
package main

import (
	"fmt"
	"sync"
	"time"

	"weftpeers/peer"
)

const tasks = 8

func round(n int64) (nsPerOp, spread float64) {
	var mu sync.Mutex
	var counter int64 // protected by mu
	var wg sync.WaitGroup
	var finished [tasks]time.Time
	t0 := time.Now()
	wg.Add(tasks)
	for t := 0; t < tasks; t++ {
		go func(t int) {
			defer wg.Done()
			for k := int64(0); k < n; k++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			finished[t] = time.Now()
		}(t)
	}
	wg.Wait()
	el := time.Since(t0)
	if counter != tasks*n {
		peer.Fail("counter %d, expected %d", counter, tasks*n)
	}
	if !mu.TryLock() {
		peer.Fail("mutex still held after the round")
	}
	first, last := finished[0], finished[0]
	for _, f := range finished {
		if f.Before(first) {
			first = f
		}
		if f.After(last) {
			last = f
		}
	}
	return peer.Ns(el) / float64(tasks*n), peer.Ns(last.Sub(first)) / peer.Ns(el)
}

func main() {
	a := peer.ParseArgs(100000, 5, "lock/unlock pairs per goroutine, 8 goroutines")
	fmt.Printf("# lock_contention: %d goroutines x %d lock/unlock of one sync.Mutex, "+
		"median of %d rounds after 1 warm-up (%s)\n", tasks, a.N, a.Reps, peer.Runtime())
	warm, _ := round(peer.WarmupN(a.N))
	fmt.Printf("# warm-up: %.2f ns/op\n", warm)
	v := make([]float64, a.Reps)
	spread := make([]float64, a.Reps)
	for i := range v {
		v[i], spread[i] = round(a.N)
	}
	peer.PrintSamples("go rounds", v, "ns/op")
	peer.PrintSamples("go finishing spread", spread, "fraction of round")
	peer.Result("lock_contention", peer.Median(v), "ns/op")
}
