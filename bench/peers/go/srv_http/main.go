// srv_http — Go peer of bench/srv_http.c for bench/realclients.sh: an
// HTTP/1.1 keep-alive server on net/http, 127.0.0.1 only.
//
//	GET /          200 "Hello, World!"
//	GET /offload   the same, after a 50 us blocking call: syscall.Nanosleep,
//	               which blocks the goroutine's thread in a system call (the
//	               runtime hands its P to another thread, as for any blocking
//	               system call)
//	anything else  404
//
// usage: srv_http [-p PORT] [-w N]; SIGUSR1 prints statistics, SIGINT or
// SIGTERM stops it.
package main

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"

	"weftpeers/peer"
)

const body = "Hello, World!"

var offloadsInFlight, requests atomic.Int64

func hello(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(body))
}

func main() {
	port := peer.ServerArgs("HTTP/1.1: GET / and GET /offload (50 us blocking call)")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch {
		case r.Method != http.MethodGet:
			http.NotFound(w, r)
		case r.URL.Path == "/":
			hello(w)
		case r.URL.Path == "/offload":
			offloadsInFlight.Add(1)
			ts := syscall.Timespec{Nsec: 50000}
			for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
			}
			offloadsInFlight.Add(-1)
			hello(w)
		default:
			http.NotFound(w, r)
		}
	})
	l := peer.Listen("srv_http", port)
	peer.StopOnSignal("srv_http", func() string {
		return fmt.Sprintf("threads_created=%d goroutines=%d offloads_in_flight=%d requests=%d",
			pprof.Lookup("threadcreate").Count(), runtime.NumGoroutine(),
			offloadsInFlight.Load(), requests.Load())
	})
	if err := http.Serve(l, mux); err != nil {
		peer.Fail("serve: %v", err)
	}
}
