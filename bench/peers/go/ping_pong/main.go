// ping_pong — Go peer of bench/ping_pong.c: two goroutines pass a token back
// and forth N times (default 1,000,000) through two unbuffered (rendezvous)
// channels; the pinger (the main goroutine) sends on one and receives on the
// other, the ponger the reverse.  Result: wall time / N in ns/round trip,
// median of the repetitions after one warm-up round of N/10.  Every received
// value is checked.
package main

import (
	"fmt"
	"time"

	"weftpeers/peer"
)

func round(n int64) float64 {
	ping := make(chan int64)
	pong := make(chan int64)
	done := make(chan int64)
	go func() {
		var ponged int64
		for i := int64(1); i <= n; i++ {
			v := <-ping
			if v != i {
				peer.Fail("ponger: got %d, expected %d", v, i)
			}
			pong <- v
			ponged++
		}
		done <- ponged
	}()
	t0 := time.Now()
	for i := int64(1); i <= n; i++ {
		ping <- i
		if v := <-pong; v != i {
			peer.Fail("pinger: got %d back, expected %d", v, i)
		}
	}
	el := time.Since(t0)
	if ponged := <-done; ponged != n {
		peer.Fail("%d of %d round trips", ponged, n)
	}
	return peer.Ns(el) / float64(n)
}

func main() {
	a := peer.ParseArgs(1000000, 5, "round trips per round")
	fmt.Printf("# ping_pong: 2 goroutines, %d round trips through 2 unbuffered channels, "+
		"median of %d rounds after 1 warm-up (%s)\n", a.N, a.Reps, peer.Runtime())
	peer.Measure(a, "ping_pong", "ns/round trip", round)
}
