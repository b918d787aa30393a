//! Times wsdissect's two unmasking functions on a 64 MiB buffer, best of 5, and prints GB/s.
//! `cargo run --release` (from bench/unmask/). Optional argument: buffer size in MiB.
use std::hint::black_box;
use std::time::{Duration, Instant};

use wsdissect::ws::mask::{apply_mask, apply_mask_bytewise};

fn best_of(runs: usize, buf: &mut [u8], f: fn(&mut [u8], [u8; 4], u64)) -> Duration {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut best = Duration::MAX;
    for i in 0..runs {
        let t = Instant::now();
        // offsets 0..3 in turn: also the rotated-key path, as for a payload split across segments
        f(black_box(&mut *buf), black_box(key), black_box(i as u64 % 4));
        black_box(&*buf);
        best = best.min(t.elapsed());
    }
    best
}

fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let len = mib << 20;
    // deterministic non-zero contents (xorshift)
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut buf: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();

    // the two must agree (checked on the whole buffer, odd offset)
    let mut a = buf[..1 << 20].to_vec();
    let mut b = a.clone();
    apply_mask(&mut a[3..], [1, 2, 3, 4], 5);
    apply_mask_bytewise(&mut b[3..], [1, 2, 3, 4], 5);
    assert_eq!(a, b, "apply_mask and apply_mask_bytewise disagree");

    let runs = 5;
    let fast = best_of(runs, &mut buf, apply_mask);
    let slow = best_of(runs, &mut buf, apply_mask_bytewise);
    let gbps = |d: Duration| len as f64 / d.as_secs_f64() / 1e9;
    println!("| function | buffer | best of {runs} | GB/s |");
    println!("|---|---|---|---|");
    println!("| `apply_mask` (u64 words) | {mib} MiB | {:.2} ms | {:.2} |", fast.as_secs_f64() * 1e3, gbps(fast));
    println!("| `apply_mask_bytewise` | {mib} MiB | {:.2} ms | {:.2} |", slow.as_secs_f64() * 1e3, gbps(slow));
    println!();
    println!("speed-up: {:.1}x", slow.as_secs_f64() / fast.as_secs_f64());
}
