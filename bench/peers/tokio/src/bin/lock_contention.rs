//! lock_contention — Tokio peer of bench/lock_contention.c: 8 tasks each
//! acquire and release one tokio::sync::Mutex N times (default 100,000),
//! incrementing the counter it protects.  Result: wall time of the round /
//! (8*N), in ns/op, median of the repetitions after one warm-up round of N/10.
//! Checks the counter.  Tokio's Mutex is fair (FIFO); the '#' line with the
//! spread of the tasks' finishing times (fraction of the round) is the C
//! program's fairness line.

use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;
use weft_peers_tokio::{self as peer, fail};

const TASKS: u64 = 8;

async fn round(n: u64) -> (f64, f64) {
    let m = Arc::new(Mutex::new(0u64));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS as usize);
    for _ in 0..TASKS {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                *m.lock().await += 1;
            }
            Instant::now()
        }));
    }
    let mut finished = Vec::with_capacity(TASKS as usize);
    for t in tasks {
        finished.push(t.await.unwrap_or_else(|e| fail!("task: {e}")));
    }
    let el = t0.elapsed();
    let counter = match m.try_lock() {
        Ok(c) => *c,
        Err(_) => fail!("mutex still held after the round"),
    };
    if counter != TASKS * n {
        fail!("counter {counter}, expected {}", TASKS * n);
    }
    let first = *finished.iter().min().unwrap();
    let last = *finished.iter().max().unwrap();
    (
        peer::ns(el) / (TASKS * n) as f64,
        peer::ns(last - first) / peer::ns(el),
    )
}

fn main() {
    let a = peer::parse_args(100_000, 5, "lock/unlock pairs per task, 8 tasks");
    println!(
        "# lock_contention: {TASKS} tasks x {} lock/unlock of one tokio::sync::Mutex, \
         median of {} rounds after 1 warm-up ({})",
        a.n,
        a.reps,
        peer::runtime(a.workers)
    );
    let (n, reps) = (a.n, a.reps);
    let (v, spread) = peer::run(a.workers, async move {
        println!("# warm-up: {:.2} ns/op", round(peer::warmup_n(n)).await.0);
        let (mut v, mut spread) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let (ns, s) = round(n).await;
            v.push(ns);
            spread.push(s);
        }
        (v, spread)
    });
    peer::print_samples("tokio rounds", &v, "ns/op");
    peer::print_samples("tokio finishing spread", &spread, "fraction of round");
    peer::result("lock_contention", peer::median(&v), "ns/op");
}
