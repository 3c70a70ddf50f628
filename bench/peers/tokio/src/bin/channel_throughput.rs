//! channel_throughput — Tokio peer of bench/channel_throughput.c: 4 producer
//! tasks and 4 consumer tasks move N items (default 1,000,000) through one
//! channel of capacity 1024; each producer sends its share through its own
//! Sender clone and drops it, consumers receive until the channel is closed
//! and drained.  Result: N / wall time of the round (from before the first
//! spawn until every task is joined), in items/s, median of the repetitions
//! after one warm-up round of N/10.  Checks the number of items and their sum
//! (each item 1..N exactly once).
//!
//! Tokio has no multi-consumer channel: the tokio::sync::mpsc Receiver is
//! shared by the 4 consumers through a tokio::sync::Mutex, a consumer holding
//! the lock while it waits in recv().  That lock is part of what this
//! measures, so the number is Tokio's "4 consumers on one mpsc channel", not
//! an MPMC channel's (weft's numbers are quoted against Go's for this one).
//!
//! Consumers count and sum in locals and return the totals at the end, as the
//! C program does.

use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex};
use weft_peers_tokio::{self as peer, fail};

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const CAPACITY: usize = 1024;

async fn round(n: u64) -> f64 {
    let (tx, rx) = mpsc::channel::<u64>(CAPACITY);
    let rx = Arc::new(Mutex::new(rx));
    let t0 = Instant::now();
    let mut consumers = Vec::with_capacity(CONSUMERS);
    for _ in 0..CONSUMERS {
        let rx = rx.clone();
        consumers.push(tokio::spawn(async move {
            let (mut got, mut sum) = (0u64, 0u64);
            loop {
                let item = rx.lock().await.recv().await;
                match item {
                    Some(v) => {
                        got += 1;
                        sum += v;
                    }
                    None => return (got, sum),
                }
            }
        }));
    }
    let mut producers = Vec::with_capacity(PRODUCERS as usize);
    let mut first = 0u64;
    for p in 0..PRODUCERS {
        let count = n / PRODUCERS + u64::from(p < n % PRODUCERS);
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for i in 1..=count {
                if tx.send(first + i).await.is_err() {
                    fail!("producer: send failed");
                }
            }
        }));
        first += count;
    }
    drop(tx);
    for p in producers {
        p.await.unwrap_or_else(|e| fail!("producer: {e}"));
    }
    let (mut got, mut sum) = (0u64, 0u64);
    for c in consumers {
        let (g, s) = c.await.unwrap_or_else(|e| fail!("consumer: {e}"));
        got += g;
        sum += s;
    }
    let el = t0.elapsed();
    let want = n * (n + 1) / 2;
    if got != n || sum != want {
        fail!("received {got} items (sum {sum}), expected {n} (sum {want})");
    }
    n as f64 / el.as_secs_f64()
}

fn main() {
    let a = peer::parse_args(1_000_000, 5, "items per round");
    println!(
        "# channel_throughput: {PRODUCERS} producers, {CONSUMERS} consumers, {} items, \
         mpsc capacity {CAPACITY}, receiver shared through a tokio Mutex, \
         median of {} rounds after 1 warm-up ({})",
        a.n,
        a.reps,
        peer::runtime(a.workers)
    );
    let (n, reps) = (a.n, a.reps);
    let v = peer::run(a.workers, peer::rounds(n, reps, "items/s", round));
    peer::report("channel_throughput", "items/s", &v);
}
