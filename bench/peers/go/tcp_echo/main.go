// tcp_echo — Go peer of bench/tcp_echo.c: TCP echo on loopback, 50
// connections x N round trips (default 2,000) of a 64-byte message, in round
// trips/s, median of the repetitions (default 3) after one warm-up round of
// N/10.
//
// One process: an echo server on 127.0.0.1 (port 0) whose handler goroutine
// per connection sets TCP_NODELAY and echoes what it reads until EOF; per
// round, 50 client goroutines each connect, set TCP_NODELAY, do N round trips
// (write 64 bytes, read exactly 64 back, every byte checked) and close.  The
// round is timed from before the first client starts until the last one is
// done, connections included.  After each round (untimed) the program waits
// until the server saw every connection's EOF and checks the bytes it echoed.
// The message bytes are those of bench/uv_echo.h's uve_msg_byte.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"weftpeers/peer"
)

const (
	conns  = 50
	msgLen = 64
)

func msgByte(c, i int64, k int) byte { return byte(c*131 + i*17 + int64(k)*3 + 1) }

type server struct {
	ended                 int64 // connections that ended at EOF
	echoed                int64 // bytes
	wantEnded, wantEchoed int64
}

func (s *server) handle(c *net.TCPConn) {
	defer c.Close()
	if err := c.SetNoDelay(true); err != nil {
		peer.Fail("echo handler: SetNoDelay: %v", err)
	}
	buf := make([]byte, 4096)
	var echoed int64
	for {
		got, err := c.Read(buf)
		if got > 0 {
			if _, werr := c.Write(buf[:got]); werr != nil {
				peer.Fail("echo handler: write: %v", werr)
			}
			echoed += int64(got)
		}
		if errors.Is(err, io.EOF) {
			atomic.AddInt64(&s.echoed, echoed)
			atomic.AddInt64(&s.ended, 1)
			return
		}
		if err != nil {
			peer.Fail("echo handler: read: %v", err)
		}
	}
}

func (s *server) serve(l *net.TCPListener) {
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			peer.Fail("accept: %v", err)
		}
		go s.handle(c)
	}
}

// wait (untimed, at most 10 s) until the server saw the EOF of every
// connection so far, then check its counts.
func (s *server) wait(n int64) {
	s.wantEnded += conns
	s.wantEchoed += conns * n * msgLen
	giveUp := time.Now().Add(10 * time.Second)
	for atomic.LoadInt64(&s.ended) < s.wantEnded && time.Now().Before(giveUp) {
		time.Sleep(500 * time.Microsecond)
	}
	ended, echoed := atomic.LoadInt64(&s.ended), atomic.LoadInt64(&s.echoed)
	if ended != s.wantEnded || echoed != s.wantEchoed {
		peer.Fail("echo server: %d connections ended, %d bytes echoed; expected %d, %d",
			ended, echoed, s.wantEnded, s.wantEchoed)
	}
}

func client(addr *net.TCPAddr, id, n int64) int64 {
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		peer.Fail("client %d: dial: %v", id, err)
	}
	if err := c.SetNoDelay(true); err != nil {
		peer.Fail("client %d: SetNoDelay: %v", id, err)
	}
	var msg, back [msgLen]byte
	var trips int64
	for i := int64(0); i < n; i++ {
		for k := range msg {
			msg[k] = msgByte(id, i, k)
		}
		if _, err := c.Write(msg[:]); err != nil {
			peer.Fail("client %d: round trip %d: write: %v", id, i, err)
		}
		if _, err := io.ReadFull(c, back[:]); err != nil {
			peer.Fail("client %d: round trip %d: read: %v", id, i, err)
		}
		if !bytes.Equal(msg[:], back[:]) {
			peer.Fail("client %d: round trip %d: wrong bytes echoed", id, i)
		}
		trips++
	}
	if err := c.Close(); err != nil {
		peer.Fail("client %d: close: %v", id, err)
	}
	return trips
}

func round(s *server, addr *net.TCPAddr, n int64) float64 {
	var wg sync.WaitGroup
	var trips [conns]int64
	t0 := time.Now()
	wg.Add(conns)
	for i := int64(0); i < conns; i++ {
		go func(i int64) {
			defer wg.Done()
			trips[i] = client(addr, i, n)
		}(i)
	}
	wg.Wait()
	el := time.Since(t0)
	for i, t := range trips {
		if t != n {
			peer.Fail("client %d: %d of %d round trips", i, t, n)
		}
	}
	s.wait(n)
	return float64(conns*n) / el.Seconds()
}

func main() {
	a := peer.ParseArgs(2000, 3, "round trips per connection")
	fmt.Printf("# tcp_echo: %d connections x %d round trips of %d bytes on 127.0.0.1, "+
		"median of %d rounds after 1 warm-up (connections included) (%s)\n",
		conns, a.N, msgLen, a.Reps, peer.Runtime())
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		peer.Fail("listen: %v", err)
	}
	addr := l.Addr().(*net.TCPAddr)
	s := &server{}
	go s.serve(l)
	peer.Measure(a, "tcp_echo", "round trips/s", func(n int64) float64 { return round(s, addr, n) })
	l.Close()
}
