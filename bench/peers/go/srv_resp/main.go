// srv_resp — Go peer of bench/srv_resp.c for bench/realclients.sh: a
// Redis-protocol (RESP2) key-value server, 127.0.0.1 only, a goroutine per
// connection, the keys in one map under a sync.Mutex.
//
// Commands: PING [msg], ECHO msg, SET key value, GET key, INCR key,
// DEL key..., EXISTS key..., CONFIG GET param (what redis-benchmark asks on
// connect).  Requests as RESP arrays or inline, pipelined or not: the
// answers are buffered and written when no more request is buffered.
//
// usage: srv_resp [-p PORT] [-w N]; SIGUSR1 prints statistics, SIGINT or
// SIGTERM stops it.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"weftpeers/peer"
)

const maxArgs = 64

var errProtocol = errors.New("Protocol error")

type store struct {
	mu sync.Mutex
	kv map[string][]byte
}

var commands atomic.Int64

// readLine returns the next line without its CRLF (or LF).
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func parseCount(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || n > 1<<20 {
		return 0, errProtocol
	}
	return n, nil
}

// readCommand reads one command: a RESP array of bulk strings or an inline
// line of words.
func readCommand(r *bufio.Reader) ([][]byte, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if len(line) == 0 || line[0] != '*' {
		return bytes.Fields(append([]byte(nil), line...)), nil
	}
	argc, err := parseCount(line[1:])
	if err != nil || argc < 1 || argc > maxArgs {
		return nil, errProtocol
	}
	args := make([][]byte, argc)
	for i := range args {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 || line[0] != '$' {
			return nil, errProtocol
		}
		n, err := parseCount(line[1:])
		if err != nil {
			return nil, err
		}
		args[i] = make([]byte, n+2)
		if _, err := io.ReadFull(r, args[i]); err != nil {
			return nil, err
		}
		if args[i][n] != '\r' || args[i][n+1] != '\n' {
			return nil, errProtocol
		}
		args[i] = args[i][:n]
	}
	return args, nil
}

func bulk(w *bufio.Writer, b []byte) {
	fmt.Fprintf(w, "$%d\r\n", len(b))
	w.Write(b)
	w.WriteString("\r\n")
}

func integer(w *bufio.Writer, n int64) { fmt.Fprintf(w, ":%d\r\n", n) }

func replyError(w *bufio.Writer, msg string) { w.WriteString("-ERR " + msg + "\r\n") }

// storeCommands: how many arguments each takes (name included; negative:
// at least that many).
var storeCommands = map[string]int{"GET": 2, "SET": 3, "INCR": 2, "DEL": -2, "EXISTS": -2}

func (s *store) execLocked(w *bufio.Writer, name string, args [][]byte) {
	switch name {
	case "GET":
		if v, ok := s.kv[string(args[1])]; ok {
			bulk(w, v)
		} else {
			w.WriteString("$-1\r\n")
		}
	case "SET":
		s.kv[string(args[1])] = append([]byte(nil), args[2]...)
		w.WriteString("+OK\r\n")
	case "INCR":
		var v int64
		if old, ok := s.kv[string(args[1])]; ok {
			var err error
			if v, err = strconv.ParseInt(string(old), 10, 64); err != nil {
				replyError(w, "value is not an integer or out of range")
				return
			}
		}
		if v == math.MaxInt64 {
			replyError(w, "increment or decrement would overflow")
			return
		}
		v++
		s.kv[string(args[1])] = strconv.AppendInt(nil, v, 10)
		integer(w, v)
	default: // DEL, EXISTS
		var n int64
		for _, k := range args[1:] {
			if _, ok := s.kv[string(k)]; ok {
				n++
				if name == "DEL" {
					delete(s.kv, string(k))
				}
			}
		}
		integer(w, n)
	}
}

func (s *store) exec(w *bufio.Writer, args [][]byte) {
	commands.Add(1)
	if len(args) == 0 {
		return
	}
	name := strings.ToUpper(string(args[0]))
	if want, ok := storeCommands[name]; ok {
		if (want > 0 && len(args) != want) || (want < 0 && len(args) < -want) {
			replyError(w, "wrong number of arguments")
			return
		}
		s.mu.Lock()
		s.execLocked(w, name, args)
		s.mu.Unlock()
		return
	}
	switch {
	case name == "PING" && len(args) == 1:
		w.WriteString("+PONG\r\n")
	case (name == "PING" || name == "ECHO") && len(args) == 2:
		bulk(w, args[1])
	case name == "CONFIG" && len(args) == 3 && strings.EqualFold(string(args[1]), "GET"):
		param := strings.ToLower(string(args[2]))
		if value, ok := map[string]string{"save": "", "appendonly": "no"}[param]; ok {
			w.WriteString("*2\r\n")
			bulk(w, args[2])
			bulk(w, []byte(value))
		} else {
			w.WriteString("*0\r\n")
		}
	default:
		replyError(w, "unknown command or wrong number of arguments")
	}
}

func (s *store) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 16384)
	w := bufio.NewWriterSize(c, 16384)
	for {
		args, err := readCommand(r)
		if err != nil {
			if err == errProtocol || err == bufio.ErrBufferFull {
				replyError(w, err.Error())
				w.Flush()
			}
			return
		}
		s.exec(w, args)
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}

func main() {
	port := peer.ServerArgs("RESP2: PING ECHO SET GET INCR DEL EXISTS CONFIG GET")
	s := &store{kv: make(map[string][]byte)}
	l := peer.Listen("srv_resp", port)
	peer.StopOnSignal("srv_resp", func() string {
		return fmt.Sprintf("commands=%d", commands.Load())
	})
	for {
		c, err := l.Accept()
		if err != nil {
			peer.Fail("accept: %v", err)
		}
		go s.serve(c)
	}
}
