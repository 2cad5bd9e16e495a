//! Channels and barriers, lockprof's against std's in the same run: `lockprof::sync::mpsc` over
//! std's channels (one thread sending and receiving, the fast paths; a producer thread feeding a
//! consumer, where the consumer often waits), and `lockprof::sync::Barrier` (a barrier of one,
//! which never waits; two threads meeting every round). Rounds alternate std and lockprof (so
//! drift of a shared machine hits both alike); per case, the median ns per operation of each and
//! the median of the per-round ratios.
//!
//! `cargo bench -p lockprof --bench waits` (`-- --quick` for a smoke run).
//!
//! `-- --only <channel|sync_channel|barrier1|notify> <std|lockprof> [iters]` runs one
//! single-thread loop of one implementation and nothing else, for instruction counts:
//! `valgrind --tool=callgrind target/release/deps/waits-<hash> --only channel lockprof 1000000`,
//! minus the same with `0` iterations, divided by the iterations.

use std::hint::black_box;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `std_op` and `ours` (each returns ns per operation for one round) in alternating rounds
/// and prints one row.
fn case(name: &str, rounds: usize, mut std_op: impl FnMut() -> f64, mut ours: impl FnMut() -> f64) {
    let (mut s, mut l, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = std_op();
            (a, ours())
        } else {
            let b = ours();
            (std_op(), b)
        };
        s.push(a);
        l.push(b);
        ratios.push(b / a);
    }
    println!("{name:<40} {:>9.1} ns {:>9.1} ns {:>8.2}x", median(s), median(l), median(ratios));
}

/// ns per call of `op` over `iters` calls.
fn time(iters: u64, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// One producer thread sends `n` messages, this thread receives them: ns per message.
macro_rules! producer_consumer {
    ($make:expr, $n:expr) => {{
        let n: u64 = $n;
        let (tx, rx) = $make;
        let start = Instant::now();
        let producer = std::thread::spawn(move || {
            for i in 0..n {
                tx.send(black_box(i)).unwrap();
            }
        });
        let mut sum = 0u64;
        for _ in 0..n {
            sum = sum.wrapping_add(rx.recv().unwrap());
        }
        producer.join().unwrap();
        black_box(sum);
        start.elapsed().as_nanos() as f64 / n as f64
    }};
}

/// Two threads exchange a message each way over two rendezvous channels `n` times: ns per round.
macro_rules! ping_pong {
    ($ping:expr, $pong:expr, $n:expr) => {{
        let n: u64 = $n;
        let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = ($ping, $pong);
        let start = Instant::now();
        let echo = std::thread::spawn(move || {
            for m in ping_rx {
                pong_tx.send(m + 1).unwrap();
            }
        });
        for i in 0..n {
            ping_tx.send(i).unwrap();
            black_box(pong_rx.recv().unwrap());
        }
        drop(ping_tx);
        echo.join().unwrap();
        start.elapsed().as_nanos() as f64 / n as f64
    }};
}

/// Two threads meet at a barrier of two `n` times: ns per round.
macro_rules! barrier_rounds {
    ($barrier:ty, $n:expr) => {{
        let n: u64 = $n;
        let barrier = std::sync::Arc::new(<$barrier>::new(2));
        let other = std::sync::Arc::clone(&barrier);
        let start = Instant::now();
        let t = std::thread::spawn(move || {
            for _ in 0..n {
                other.wait();
            }
        });
        for _ in 0..n {
            barrier.wait();
        }
        t.join().unwrap();
        start.elapsed().as_nanos() as f64 / n as f64
    }};
}

/// `--only <case> <impl> [iters]`: one loop, nothing else.
fn only(args: &[String]) {
    let usage = "usage: waits --only <channel|sync_channel|barrier1|notify> <std|lockprof> [iters]";
    let (case, which) = (args.first().expect(usage).as_str(), args.get(1).expect(usage).as_str());
    let iters: u64 = args.get(2).map_or(1_000_000, |n| n.parse().expect(usage));
    macro_rules! run {
        ($setup:expr, $op:expr) => {{
            let state = $setup;
            for _ in 0..iters {
                $op(&state);
            }
        }};
    }
    match (case, which) {
        ("channel", "std") => run!(std::sync::mpsc::channel::<u64>(), |(tx, rx): &(
            std::sync::mpsc::Sender<u64>,
            std::sync::mpsc::Receiver<u64>
        )| {
            tx.send(black_box(1)).unwrap();
            black_box(rx.recv().unwrap());
        }),
        ("channel", "lockprof") => run!(lockprof::sync::mpsc::channel::<u64>(), |(tx, rx): &(
            lockprof::sync::mpsc::Sender<u64>,
            lockprof::sync::mpsc::Receiver<u64>
        )| {
            tx.send(black_box(1)).unwrap();
            black_box(rx.recv().unwrap());
        }),
        ("sync_channel", "std") => run!(std::sync::mpsc::sync_channel::<u64>(16), |(tx, rx): &(
            std::sync::mpsc::SyncSender<u64>,
            std::sync::mpsc::Receiver<u64>
        )| {
            tx.send(black_box(1)).unwrap();
            black_box(rx.recv().unwrap());
        }),
        ("sync_channel", "lockprof") => run!(lockprof::sync::mpsc::sync_channel::<u64>(16), |(tx, rx): &(
            lockprof::sync::mpsc::SyncSender<u64>,
            lockprof::sync::mpsc::Receiver<u64>
        )| {
            tx.send(black_box(1)).unwrap();
            black_box(rx.recv().unwrap());
        }),
        ("barrier1", "std") => {
            run!(std::sync::Barrier::new(1), |b: &std::sync::Barrier| {
                black_box(b.wait().is_leader());
            })
        }
        ("barrier1", "lockprof") => {
            run!(lockprof::sync::Barrier::new(1), |b: &lockprof::sync::Barrier| {
                black_box(b.wait().is_leader());
            })
        }
        ("notify", "std") => run!(std::sync::Condvar::new(), |c: &std::sync::Condvar| c.notify_one()),
        ("notify", "lockprof") => {
            run!(lockprof::sync::Condvar::new(), |c: &lockprof::sync::Condvar| c.notify_one())
        }
        _ => panic!("{usage}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--only") {
        only(&args[pos + 1..]);
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, iters, messages, meetings) =
        if quick { (3, 10_000, 10_000, 1_000) } else { (21, 1_000_000, 200_000, 20_000) };
    println!("{:<40} {:>12} {:>12} {:>9}", "case", "std", "lockprof", "paired");

    let (std_tx, std_rx) = std::sync::mpsc::channel::<u64>();
    let (our_tx, our_rx) = lockprof::sync::mpsc::channel::<u64>();
    case(
        "channel send+recv (one thread)",
        rounds,
        || {
            time(iters, || {
                std_tx.send(black_box(1)).unwrap();
                black_box(std_rx.recv().unwrap());
            })
        },
        || {
            time(iters, || {
                our_tx.send(black_box(1)).unwrap();
                black_box(our_rx.recv().unwrap());
            })
        },
    );

    let (std_tx, std_rx) = std::sync::mpsc::sync_channel::<u64>(16);
    let (our_tx, our_rx) = lockprof::sync::mpsc::sync_channel::<u64>(16);
    case(
        "sync_channel(16) send+recv (one thread)",
        rounds,
        || {
            time(iters, || {
                std_tx.send(black_box(1)).unwrap();
                black_box(std_rx.recv().unwrap());
            })
        },
        || {
            time(iters, || {
                our_tx.send(black_box(1)).unwrap();
                black_box(our_rx.recv().unwrap());
            })
        },
    );

    case(
        "channel, producer -> consumer thread",
        rounds,
        || producer_consumer!(std::sync::mpsc::channel::<u64>(), messages),
        || producer_consumer!(lockprof::sync::mpsc::channel::<u64>(), messages),
    );

    case(
        "sync_channel(64), producer -> consumer",
        rounds,
        || producer_consumer!(std::sync::mpsc::sync_channel::<u64>(64), messages),
        || producer_consumer!(lockprof::sync::mpsc::sync_channel::<u64>(64), messages),
    );

    case(
        "sync_channel(0) ping-pong, per round",
        rounds,
        || {
            ping_pong!(
                std::sync::mpsc::sync_channel::<u64>(0),
                std::sync::mpsc::sync_channel::<u64>(0),
                meetings
            )
        },
        || {
            ping_pong!(
                lockprof::sync::mpsc::sync_channel::<u64>(0),
                lockprof::sync::mpsc::sync_channel::<u64>(0),
                meetings
            )
        },
    );

    let std_one = std::sync::Barrier::new(1);
    let our_one = lockprof::sync::Barrier::new(1);
    case(
        "Barrier::new(1).wait (never waits)",
        rounds,
        || {
            time(iters, || {
                black_box(std_one.wait().is_leader());
            })
        },
        || {
            time(iters, || {
                black_box(our_one.wait().is_leader());
            })
        },
    );

    case(
        "Barrier of 2, two threads, per round",
        rounds,
        || barrier_rounds!(std::sync::Barrier, meetings),
        || barrier_rounds!(lockprof::sync::Barrier, meetings),
    );
}
