package peer

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// ServerArgs parses the flags of the servers of bench/realclients.sh, as
// bench/srv.h does: -p PORT (0: a free one) and -w N (GOMAXPROCS, default 2;
// 0 keeps Go's default).  what says what the program serves.
func ServerArgs(what string) (port int) {
	flag.IntVar(&port, "p", 0, "port on 127.0.0.1 (0: a free one, printed)")
	workers := flag.Int("w", 2, "GOMAXPROCS (0: the number of CPUs)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-p PORT] [-w N]\n%s\n", os.Args[0], what)
		flag.PrintDefaults()
	}
	flag.Parse()
	if *workers > 0 {
		runtime.GOMAXPROCS(*workers)
	}
	return port
}

// Listen listens on 127.0.0.1 only (these servers are measured on loopback,
// never exposed) and prints the line bench/srv.h prints.
func Listen(name string, port int) net.Listener {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		Fail("listen 127.0.0.1:%d: %v", port, err)
	}
	fmt.Printf("# %s listening on %s, %s\n", name, l.Addr(), Runtime())
	return l
}

// StopOnSignal exits 0 on SIGINT or SIGTERM, after printing stats(); SIGUSR1
// prints them too: "# stats <name>: <stats()>".
func StopOnSignal(name string, stats func() string) {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	go func() {
		for s := range c {
			fmt.Printf("# stats %s: %s\n", name, stats())
			if s != syscall.SIGUSR1 {
				os.Exit(0)
			}
		}
	}()
}
