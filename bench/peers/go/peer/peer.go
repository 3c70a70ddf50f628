// Package peer holds what the Go peer programs share with bench/bench.h: the
// flags (-w N, -n N, -r N), the median of the repetitions and the output lines
//
//	# comment lines (parameters, raw per-repetition values)
//	go <workload> <value> <unit>
package peer

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Args are the common flags: -w/--workers (GOMAXPROCS, default 2; 0 keeps
// Go's default, the number of CPUs), -n (program-specific size) and
// -r/--reps (measured repetitions after one warm-up).
type Args struct {
	Workers int
	N       int64
	Reps    int
}

func parseInt(flag, s string, min int64) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < min {
		fmt.Fprintf(os.Stderr, "%s: bad value for %s: '%s' (want an integer >= %d)\n",
			os.Args[0], flag, s, min)
		os.Exit(2)
	}
	return v
}

// ParseArgs parses the flags like bench_parse_args and sets GOMAXPROCS.
// nWhat says what -n counts.
func ParseArgs(defN int64, defReps int, nWhat string) Args {
	a := Args{Workers: 2, N: defN, Reps: defReps}
	usage := fmt.Sprintf("usage: %s [-w N|--workers N] [-n N] [-r N|--reps N]\n"+
		"  -w N   GOMAXPROCS (default 2; 0: the number of CPUs)\n"+
		"  -n N   %s (default %d)\n"+
		"  -r N   measured rounds after one warm-up (default %d)\n",
		os.Args[0], nWhat, defN, defReps)
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		f, val, which := args[i], "", ""
		switch {
		case f == "-h" || f == "--help":
			fmt.Print(usage)
			os.Exit(0)
		case f == "-w" || f == "--workers":
			which = "--workers"
		case strings.HasPrefix(f, "--workers="):
			which, val = "--workers", f[10:]
		case strings.HasPrefix(f, "-w") && len(f) > 2:
			which, val = "--workers", f[2:]
		case f == "-n":
			which = "-n"
		case strings.HasPrefix(f, "-n") && len(f) > 2:
			which, val = "-n", f[2:]
		case f == "-r" || f == "--reps":
			which = "--reps"
		case strings.HasPrefix(f, "--reps="):
			which, val = "--reps", f[7:]
		default:
			fmt.Fprintf(os.Stderr, "%s: unknown argument '%s'\n%s", os.Args[0], f, usage)
			os.Exit(2)
		}
		if val == "" {
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "%s: %s needs a value\n", os.Args[0], f)
				os.Exit(2)
			}
			i++
			val = args[i]
		}
		switch which {
		case "--workers":
			a.Workers = int(parseInt(which, val, 0))
		case "-n":
			a.N = parseInt(which, val, 1)
		default:
			a.Reps = int(parseInt(which, val, 1))
		}
	}
	if a.Reps > 1000 {
		a.Reps = 1000
	}
	if a.Workers > 0 {
		runtime.GOMAXPROCS(a.Workers)
	}
	a.Workers = runtime.GOMAXPROCS(0)
	return a
}

// Runtime says which Go ran the program, for a comment line.
func Runtime() string {
	return fmt.Sprintf("%s, GOMAXPROCS=%d", runtime.Version(), runtime.GOMAXPROCS(0))
}

// WarmupN is the size of the warm-up round: n/10, at least 1.
func WarmupN(n int64) int64 {
	if n/10 > 0 {
		return n / 10
	}
	return 1
}

// Ns is the duration in nanoseconds, as a float.
func Ns(d time.Duration) float64 { return float64(d.Nanoseconds()) }

// Median of v (v is not changed).
func Median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// PrintSamples prints "# <label> (<unit>): a b c  [min x, median y]".
func PrintSamples(label string, v []float64, unit string) {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s (%s):", label, unit)
	min := 0.0
	for i, x := range v {
		fmt.Fprintf(&b, " %.2f", x)
		if i == 0 || x < min {
			min = x
		}
	}
	fmt.Fprintf(&b, "  [min %.2f, median %.2f]", min, Median(v))
	fmt.Println(b.String())
}

// Measure runs one warm-up round of WarmupN(a.N), then a.Reps rounds of a.N,
// and prints the warm-up's value, the raw values and the result line (their
// median).
func Measure(a Args, workload, unit string, round func(n int64) float64) {
	fmt.Printf("# warm-up: %.2f %s\n", round(WarmupN(a.N)), unit)
	v := make([]float64, a.Reps)
	for i := range v {
		v[i] = round(a.N)
	}
	PrintSamples("go rounds", v, unit)
	Result(workload, Median(v), unit)
}

// Result prints the result line "go <workload> <value> <unit>".
func Result(workload string, value float64, unit string) {
	fmt.Printf("go %s %.2f %s\n", workload, value, unit)
}

// Fail reports a wrong result or a failed call and exits 1 (from any goroutine).
func Fail(format string, args ...interface{}) {
	os.Stdout.Sync()
	fmt.Fprintf(os.Stderr, "bench: FAILED: "+format+"\n", args...)
	os.Exit(1)
}
