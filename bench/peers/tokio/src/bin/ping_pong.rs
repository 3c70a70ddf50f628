//! ping_pong — Tokio peer of bench/ping_pong.c: two tasks pass a token back
//! and forth N times (default 1,000,000) through two channels; the pinger (the
//! root task) sends on one and receives on the other, the ponger the reverse.
//! Result: wall time / N in ns/round trip, median of the repetitions after one
//! warm-up round of N/10.  Every received value is checked.
//!
//! Tokio has no rendezvous channel (tokio::sync::mpsc::channel(0) panics), so
//! the channels are bounded mpsc channels of capacity 1.  With one token in
//! flight the pattern is the same: every hand-off wakes the other task, which
//! waits in recv().

use std::time::Instant;
use tokio::sync::mpsc;
use weft_peers_tokio::{self as peer, fail};

async fn round(n: u64) -> f64 {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let ponger = tokio::spawn(async move {
        let mut ponged = 0u64;
        for i in 1..=n {
            let v = ping_rx
                .recv()
                .await
                .unwrap_or_else(|| fail!("ponger: channel closed"));
            if v != i {
                fail!("ponger: got {v}, expected {i}");
            }
            if pong_tx.send(v).await.is_err() {
                fail!("ponger: send failed");
            }
            ponged += 1;
        }
        ponged
    });
    let t0 = Instant::now();
    for i in 1..=n {
        if ping_tx.send(i).await.is_err() {
            fail!("pinger: send failed");
        }
        let v = pong_rx
            .recv()
            .await
            .unwrap_or_else(|| fail!("pinger: channel closed"));
        if v != i {
            fail!("pinger: got {v} back, expected {i}");
        }
    }
    let el = t0.elapsed();
    let ponged = ponger.await.unwrap_or_else(|e| fail!("ponger: {e}"));
    if ponged != n {
        fail!("{ponged} of {n} round trips");
    }
    peer::ns(el) / n as f64
}

fn main() {
    let a = peer::parse_args(1_000_000, 5, "round trips per round");
    println!(
        "# ping_pong: 2 tasks, {} round trips through 2 mpsc channels of capacity 1, \
         median of {} rounds after 1 warm-up ({})",
        a.n,
        a.reps,
        peer::runtime(a.workers)
    );
    let (n, reps) = (a.n, a.reps);
    let v = peer::run(a.workers, peer::rounds(n, reps, "ns/round trip", round));
    peer::report("ping_pong", "ns/round trip", &v);
}
