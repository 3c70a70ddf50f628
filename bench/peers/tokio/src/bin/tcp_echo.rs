//! tcp_echo — Tokio peer of bench/tcp_echo.c: TCP echo on loopback, 50
//! connections x N round trips (default 2,000) of a 64-byte message, in round
//! trips/s, median of the repetitions (default 3) after one warm-up round of
//! N/10.
//!
//! One runtime: an echo server on 127.0.0.1 (port 0) whose handler task per
//! connection sets TCP_NODELAY and echoes what it reads until EOF; per round,
//! 50 client tasks each connect, set TCP_NODELAY, do N round trips (write 64
//! bytes, read exactly 64 back, every byte checked) and close.  The round is
//! timed from before the first spawn until every client is joined,
//! connections included.  After each round (untimed) the program waits until
//! the server saw every connection's EOF and checks the bytes it echoed.  The
//! message bytes are those of bench/uv_echo.h's uve_msg_byte.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weft_peers_tokio::{self as peer, fail};

const CONNS: u64 = 50;
const MSG: usize = 64;

fn msg_byte(c: u64, i: u64, k: usize) -> u8 {
    (c.wrapping_mul(131)
        .wrapping_add(i.wrapping_mul(17))
        .wrapping_add(k as u64 * 3)
        + 1) as u8
}

/// What the server's handlers did, over all rounds.
#[derive(Default)]
struct Server {
    ended: AtomicU64,  // connections that ended at EOF
    echoed: AtomicU64, // bytes
}

async fn handle(srv: Arc<Server>, mut s: TcpStream) {
    if let Err(e) = s.set_nodelay(true) {
        fail!("echo handler: set_nodelay: {e}");
    }
    let mut buf = [0u8; 4096];
    let mut echoed = 0u64;
    loop {
        let got = s
            .read(&mut buf)
            .await
            .unwrap_or_else(|e| fail!("echo handler: read: {e}"));
        if got == 0 {
            srv.echoed.fetch_add(echoed, Ordering::SeqCst);
            srv.ended.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if let Err(e) = s.write_all(&buf[..got]).await {
            fail!("echo handler: write: {e}");
        }
        echoed += got as u64;
    }
}

async fn client(addr: SocketAddr, id: u64, n: u64) -> u64 {
    let mut s = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| fail!("client {id}: connect: {e}"));
    if let Err(e) = s.set_nodelay(true) {
        fail!("client {id}: set_nodelay: {e}");
    }
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    let mut trips = 0;
    for i in 0..n {
        for (k, b) in msg.iter_mut().enumerate() {
            *b = msg_byte(id, i, k);
        }
        if let Err(e) = s.write_all(&msg).await {
            fail!("client {id}: round trip {i}: write: {e}");
        }
        if let Err(e) = s.read_exact(&mut back).await {
            fail!("client {id}: round trip {i}: read: {e}");
        }
        if msg != back {
            fail!("client {id}: round trip {i}: wrong bytes echoed");
        }
        trips += 1;
    }
    drop(s); // closes the connection: the handler reads EOF
    trips
}

async fn round(srv: &Server, addr: SocketAddr, n: u64, want: &mut (u64, u64)) -> f64 {
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CONNS)
        .map(|id| tokio::spawn(client(addr, id, n)))
        .collect();
    let mut trips = Vec::with_capacity(CONNS as usize);
    for c in clients {
        trips.push(c.await.unwrap_or_else(|e| fail!("client: {e}")));
    }
    let el = t0.elapsed();
    for (i, t) in trips.iter().enumerate() {
        if *t != n {
            fail!("client {i}: {t} of {n} round trips");
        }
    }
    // Wait (untimed, at most 10 s) until the server saw the EOF of every
    // connection so far, then check its counts.
    want.0 += CONNS;
    want.1 += CONNS * n * MSG as u64;
    let give_up = Instant::now() + Duration::from_secs(10);
    while srv.ended.load(Ordering::SeqCst) < want.0 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let (ended, echoed) = (
        srv.ended.load(Ordering::SeqCst),
        srv.echoed.load(Ordering::SeqCst),
    );
    if (ended, echoed) != *want {
        fail!(
            "echo server: {ended} connections ended, {echoed} bytes echoed; expected {}, {}",
            want.0,
            want.1
        );
    }
    (CONNS * n) as f64 / el.as_secs_f64()
}

fn main() {
    let a = peer::parse_args(2000, 3, "round trips per connection");
    println!(
        "# tcp_echo: {CONNS} connections x {} round trips of {MSG} bytes on 127.0.0.1, \
         median of {} rounds after 1 warm-up (connections included) ({})",
        a.n,
        a.reps,
        peer::runtime(a.workers)
    );
    let (n, reps) = (a.n, a.reps);
    let v = peer::run(a.workers, async move {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| fail!("bind: {e}"));
        let addr = l.local_addr().unwrap_or_else(|e| fail!("local_addr: {e}"));
        let srv = Arc::new(Server::default());
        let s2 = srv.clone();
        let server = tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap_or_else(|e| fail!("accept: {e}"));
                tokio::spawn(handle(s2.clone(), s));
            }
        });
        let mut want = (0, 0);
        let warm = round(&srv, addr, peer::warmup_n(n), &mut want).await;
        println!("# warm-up: {warm:.2} round trips/s");
        let mut v = Vec::with_capacity(reps);
        for _ in 0..reps {
            v.push(round(&srv, addr, n, &mut want).await);
        }
        server.abort(); // every handler has returned: this stops the accept only
        v
    });
    peer::report("tcp_echo", "round trips/s", &v);
}
