// tls_echo — Go peer of bench/tls_echo.c: TLS 1.3 echo on loopback with an
// ECDSA P-256 certificate (crypto/tls, AES-GCM as the client prefers):
//   - round trips: 50 connections x N round trips (default 2,000) of a
//     64-byte message, in round trips/s, connections and handshakes included
//     (median of the repetitions after one warm-up round of N/10);
//   - handshakes: 50 clients, each making N/20 connections in a row, each a
//     handshake (the client verifying the server's chain and IP address),
//     one round trip and close_notify, in handshakes/s.
//
// One process: a server goroutine per connection echoes until the client's
// close_notify (io.EOF); clients are goroutines.  The certificate is made at
// start in memory (crypto/x509), as the C program makes its own.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"

	"weftpeers/peer"
)

const (
	conns  = 50
	msgLen = 64
)

func certificate() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		peer.Fail("key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		peer.Fail("certificate: %v", err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		peer.Fail("certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		got, err := c.Read(buf)
		if got > 0 {
			if _, werr := c.Write(buf[:got]); werr != nil {
				peer.Fail("echo handler: write: %v", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			peer.Fail("echo handler: read: %v", err)
		}
	}
}

func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			peer.Fail("accept: %v", err)
		}
		c.(*net.TCPConn).SetNoDelay(true)
		go handle(tls.Server(c, serverConf))
	}
}

var serverConf, clientConf *tls.Config

// One connection: handshake, trips round trips (every byte checked), then
// close_notify and the server's EOF.
func connection(addr string, id, trips int64) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		peer.Fail("client %d: dial: %v", id, err)
	}
	raw.(*net.TCPConn).SetNoDelay(true)
	c := tls.Client(raw, clientConf)
	if err := c.Handshake(); err != nil {
		peer.Fail("client %d: handshake: %v", id, err)
	}
	var msg, back [msgLen]byte
	for i := int64(0); i < trips; i++ {
		for k := range msg {
			msg[k] = byte(id*131 + i*17 + int64(k)*3 + 1)
		}
		if _, err := c.Write(msg[:]); err != nil {
			peer.Fail("client %d: write: %v", id, err)
		}
		if _, err := io.ReadFull(c, back[:]); err != nil {
			peer.Fail("client %d: read: %v", id, err)
		}
		if !bytes.Equal(msg[:], back[:]) {
			peer.Fail("client %d: round trip %d: wrong bytes echoed", id, i)
		}
	}
	if err := c.CloseWrite(); err != nil { // close_notify
		peer.Fail("client %d: close_notify: %v", id, err)
	}
	if n, _ := c.Read(back[:]); n != 0 {
		peer.Fail("client %d: bytes after close_notify", id)
	}
	c.Close()
}

// Every client runs `each` connections of `trips` round trips; the rate of
// unit per second over the whole round.
func round(addr string, each, trips int64) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(conns)
	for i := int64(0); i < conns; i++ {
		go func(i int64) {
			defer wg.Done()
			for k := int64(0); k < each; k++ {
				connection(addr, i, trips)
			}
		}(i)
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	if trips > 1 {
		return float64(conns*each*trips) / el
	}
	return float64(conns*each) / el
}

func main() {
	a := peer.ParseArgs(2000, 3, "round trips per connection")
	cert, pool := certificate()
	serverConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	clientConf = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
	fmt.Printf("# tls_echo: TLS 1.3, ECDSA P-256, %d connections x %d round trips of %d bytes on "+
		"127.0.0.1, median of %d rounds after 1 warm-up; handshakes: %d clients x %d (%s)\n",
		conns, a.N, msgLen, a.Reps, conns, a.N/20, peer.Runtime())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		peer.Fail("listen: %v", err)
	}
	addr := l.Addr().String()
	go serve(l)
	peer.Measure(a, "tls_echo", "round trips/s", func(n int64) float64 { return round(addr, 1, n) })
	peer.Measure(a, "tls_handshake", "handshakes/s", func(n int64) float64 {
		each := n / 20
		if each < 1 {
			each = 1
		}
		return round(addr, each, 1)
	})
	l.Close()
}
