// channel_throughput — Go peer of bench/channel_throughput.c: 4 producer
// goroutines and 4 consumer goroutines move N items (default 1,000,000)
// through one channel of capacity 1024; the last producer to finish closes
// the channel, consumers receive until it is closed and drained.  Result: N /
// wall time of the round (from before the first goroutine starts until every
// goroutine is done), in items/s, median of the repetitions after one warm-up
// round of N/10.  Checks the number of items and their sum (each item
// 1..N exactly once).
//
// Consumers count and sum in locals and store the totals once at the end, as
// the C program does.
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"weftpeers/peer"
)

const (
	producers = 4
	consumers = 4
	capacity  = 1024
)

type total struct {
	got int64
	sum uint64
}

func round(n int64) float64 {
	ch := make(chan int64, capacity)
	var wg sync.WaitGroup
	var left int32 = producers
	totals := make([]total, consumers)
	t0 := time.Now()
	wg.Add(producers + consumers)
	for c := 0; c < consumers; c++ {
		go func(t *total) {
			defer wg.Done()
			var got int64
			var sum uint64
			for v := range ch {
				got++
				sum += uint64(v)
			}
			t.got, t.sum = got, sum
		}(&totals[c])
	}
	first := int64(0)
	for p := int64(0); p < producers; p++ {
		count := n / producers
		if p < n%producers {
			count++
		}
		go func(first, count int64) {
			defer wg.Done()
			for i := int64(1); i <= count; i++ {
				ch <- first + i
			}
			if atomic.AddInt32(&left, -1) == 0 {
				close(ch)
			}
		}(first, count)
		first += count
	}
	wg.Wait()
	el := time.Since(t0)
	var got int64
	var sum uint64
	for _, t := range totals {
		got += t.got
		sum += t.sum
	}
	want := uint64(n) * uint64(n+1) / 2
	if got != n || sum != want {
		peer.Fail("received %d items (sum %d), expected %d (sum %d)", got, sum, n, want)
	}
	return float64(n) / el.Seconds()
}

func main() {
	a := peer.ParseArgs(1000000, 5, "items per round")
	fmt.Printf("# channel_throughput: %d producers, %d consumers, %d items, capacity %d, "+
		"median of %d rounds after 1 warm-up (%s)\n",
		producers, consumers, a.N, capacity, a.Reps, peer.Runtime())
	peer.Measure(a, "channel_throughput", "items/s", round)
}
