//! What the Tokio peer programs share with bench/bench.h: the flags (-w N,
//! -n N, -r N), the runtime, the median of the repetitions and the output
//! lines
//!
//! ```text
//! # comment lines (parameters, raw per-repetition values)
//! tokio <workload> <value> <unit>
//! ```

use std::future::Future;
use std::time::Duration;

/// The common flags: -w/--workers (worker_threads of the multi-thread
/// runtime, default 2; 0 keeps Tokio's default, the number of CPUs), -n
/// (program-specific size) and -r/--reps (measured repetitions after one
/// warm-up).
pub struct Args {
    pub workers: usize,
    pub n: u64,
    pub reps: usize,
}

fn parse_int(prog: &str, flag: &str, s: &str, min: u64) -> u64 {
    match s.parse::<u64>() {
        Ok(v) if v >= min => v,
        _ => {
            eprintln!("{prog}: bad value for {flag}: '{s}' (want an integer >= {min})");
            std::process::exit(2);
        }
    }
}

/// Parse the flags like bench_parse_args; `n_what` says what -n counts.
pub fn parse_args(def_n: u64, def_reps: usize, n_what: &str) -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv.first().cloned().unwrap_or_else(|| "bench".into());
    let usage = format!(
        "usage: {prog} [-w N|--workers N] [-n N] [-r N|--reps N]\n\
         \x20 -w N   Tokio worker threads (default 2; 0: the number of CPUs)\n\
         \x20 -n N   {n_what} (default {def_n})\n\
         \x20 -r N   measured rounds after one warm-up (default {def_reps})\n"
    );
    let mut a = Args {
        workers: 2,
        n: def_n,
        reps: def_reps,
    };
    let mut i = 1;
    while i < argv.len() {
        let f = argv[i].as_str();
        let (which, mut val): (&str, Option<String>) = if f == "-h" || f == "--help" {
            print!("{usage}");
            std::process::exit(0);
        } else if f == "-w" || f == "--workers" {
            ("--workers", None)
        } else if let Some(v) = f.strip_prefix("--workers=") {
            ("--workers", Some(v.into()))
        } else if f.starts_with("-w") && f.len() > 2 {
            ("--workers", Some(f[2..].into()))
        } else if f == "-n" {
            ("-n", None)
        } else if f.starts_with("-n") && f.len() > 2 {
            ("-n", Some(f[2..].into()))
        } else if f == "-r" || f == "--reps" {
            ("--reps", None)
        } else if let Some(v) = f.strip_prefix("--reps=") {
            ("--reps", Some(v.into()))
        } else {
            eprint!("{prog}: unknown argument '{f}'\n{usage}");
            std::process::exit(2);
        };
        if val.is_none() {
            if i + 1 >= argv.len() {
                eprintln!("{prog}: {f} needs a value");
                std::process::exit(2);
            }
            i += 1;
            val = Some(argv[i].clone());
        }
        let val = val.unwrap();
        match which {
            "--workers" => a.workers = parse_int(&prog, which, &val, 0) as usize,
            "-n" => a.n = parse_int(&prog, which, &val, 1),
            _ => a.reps = parse_int(&prog, which, &val, 1) as usize,
        }
        i += 1;
    }
    a.reps = a.reps.min(1000);
    a
}

/// Run `root` as a task of a multi-thread runtime with `workers` worker
/// threads (like weft_run's root task: spawned onto the workers, not polled
/// on the calling thread by block_on) and return its output.
pub fn run<F>(workers: usize, root: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers);
    }
    let rt = b
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    rt.block_on(async move {
        match tokio::spawn(root).await {
            Ok(v) => v,
            Err(e) => fail(format!("root task: {e}")),
        }
    })
}

/// "tokio multi-thread runtime, worker_threads=N", for a comment line.
pub fn runtime(workers: usize) -> String {
    let w = if workers > 0 {
        workers.to_string()
    } else {
        format!(
            "default ({})",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )
    };
    format!("tokio multi-thread runtime, worker_threads={w}")
}

/// The size of the warm-up round: n/10, at least 1.
pub fn warmup_n(n: u64) -> u64 {
    (n / 10).max(1)
}

/// Nanoseconds, as a float.
pub fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Median of v (v is not changed).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Print "# <label> (<unit>): a b c  [min x, median y]".
pub fn print_samples(label: &str, v: &[f64], unit: &str) {
    let mut line = format!("# {label} ({unit}):");
    for x in v {
        line += &format!(" {x:.2}");
    }
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    line += &format!("  [min {min:.2}, median {:.2}]", median(v));
    println!("{line}");
}

/// One warm-up round of warmup_n(n), then `reps` rounds of n: prints the
/// warm-up's value and returns the measured values.
pub async fn rounds<F, Fut>(n: u64, reps: usize, unit: &'static str, mut round: F) -> Vec<f64>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = f64>,
{
    println!("# warm-up: {:.2} {unit}", round(warmup_n(n)).await);
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        v.push(round(n).await);
    }
    v
}

/// Print the raw values and the result line (their median).
pub fn report(workload: &str, unit: &str, v: &[f64]) {
    print_samples("tokio rounds", v, unit);
    result(workload, median(v), unit);
}

/// Print the result line "tokio <workload> <value> <unit>".
pub fn result(workload: &str, value: f64, unit: &str) {
    println!("tokio {workload} {value:.2} {unit}");
}

/// Report a wrong result or a failed call and exit 1 (from any task).
pub fn fail(msg: String) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("bench: FAILED: {msg}");
    std::process::exit(1);
}

/// `fail!("fmt", args...)`: fail(format!(...)).
#[macro_export]
macro_rules! fail {
    ($($t:tt)*) => { $crate::fail(format!($($t)*)) };
}

/// What the servers of bench/realclients.sh share (bench/srv.h in weft):
/// the flags, the listener on 127.0.0.1, the signals, a connection's
/// buffers.
pub mod server {
    use super::fail;
    use std::future::Future;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::signal::unix::{signal, SignalKind};

    /// -p PORT (0: a free one, the default) and -w N (worker_threads,
    /// default 2; 0: Tokio's default); `what` says what the program serves.
    pub fn args(what: &str) -> (u16, usize) {
        let argv: Vec<String> = std::env::args().collect();
        let (mut port, mut workers) = (0u16, 2usize);
        let mut i = 1;
        while i < argv.len() {
            let f = argv[i].as_str();
            if f == "-h" || f == "--help" {
                println!("usage: {} [-p PORT] [-w N]\n{what}", argv[0]);
                std::process::exit(0);
            }
            let v = argv.get(i + 1).map(|s| s.as_str()).unwrap_or("");
            match (f, v.parse::<u64>()) {
                ("-p", Ok(p)) if p <= 65535 => port = p as u16,
                ("-w", Ok(w)) if w <= 4096 => workers = w as usize,
                _ => {
                    eprintln!("{}: bad argument '{f} {v}' (try -h)", argv[0]);
                    std::process::exit(2);
                }
            }
            i += 2;
        }
        (port, workers)
    }

    /// Serve on 127.0.0.1:port (only: these servers are measured on
    /// loopback, never exposed) with a multi-thread runtime of `workers`
    /// threads, one task per connection running `handle`, until SIGINT or
    /// SIGTERM; SIGUSR1 prints "# stats <name>: <stats()>" (so does the end).
    pub fn serve<H, Fut>(
        name: &'static str,
        port: u16,
        workers: usize,
        stats: fn() -> String,
        handle: H,
    ) where
        H: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        super::run(workers, async move {
            let l = TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap_or_else(|e| fail!("bind 127.0.0.1:{port}: {e}"));
            let addr = l.local_addr().unwrap_or_else(|e| fail!("local_addr: {e}"));
            println!("# {name} listening on {addr}, {}", super::runtime(workers));
            let mut usr1 =
                signal(SignalKind::user_defined1()).unwrap_or_else(|e| fail!("signal: {e}"));
            let mut term = signal(SignalKind::terminate()).unwrap_or_else(|e| fail!("signal: {e}"));
            let mut int = signal(SignalKind::interrupt()).unwrap_or_else(|e| fail!("signal: {e}"));
            loop {
                tokio::select! {
                    r = l.accept() => {
                        let (s, _) = r.unwrap_or_else(|e| fail!("accept: {e}"));
                        tokio::spawn(handle(s));
                    }
                    _ = usr1.recv() => println!("# stats {name}: {}", stats()),
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                }
            }
            println!("# stats {name}: {}", stats());
        });
    }

    /// The largest request a connection takes.
    pub const IN_SIZE: usize = 16384;

    /// A connection's input (requests not parsed yet: `inp[start..end]`)
    /// and output (answers not sent yet), as bench/srv.h's srv_conn_t.
    pub struct Conn {
        pub s: TcpStream,
        inp: Vec<u8>,
        start: usize,
        end: usize,
        pub out: Vec<u8>,
    }

    /// What ends a connection's fill.
    pub enum End {
        Closed,   // EOF or an error
        TooLarge, // the unparsed input fills the buffer
    }

    impl Conn {
        pub fn new(s: TcpStream) -> Conn {
            Conn {
                s,
                inp: vec![0; IN_SIZE],
                start: 0,
                end: 0,
                out: Vec::with_capacity(4096),
            }
        }

        pub fn data(&self) -> &[u8] {
            &self.inp[self.start..self.end]
        }

        pub fn consume(&mut self, n: usize) {
            self.start += n;
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
        }

        pub async fn flush(&mut self) -> Result<(), End> {
            if !self.out.is_empty() {
                self.s.write_all(&self.out).await.map_err(|_| End::Closed)?;
                self.out.clear();
            }
            Ok(())
        }

        /// No complete request is buffered: send the answers so far, then
        /// receive more.
        pub async fn fill(&mut self) -> Result<(), End> {
            self.flush().await?;
            if self.end == IN_SIZE {
                if self.start == 0 {
                    return Err(End::TooLarge);
                }
                self.inp.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.s.read(&mut self.inp[self.end..]).await {
                Ok(0) | Err(_) => Err(End::Closed),
                Ok(n) => {
                    self.end += n;
                    Ok(())
                }
            }
        }
    }
}
