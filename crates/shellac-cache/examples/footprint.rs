//! What the store itself spends per small object: N objects with a 100-byte body and nginx's
//! headers (as `bench/objects.sh`'s origin sends them), each under its own key, inserted and read once
//! (as a miss's delivery reads it); the RSS growth per object minus the body, and minus the
//! body and the header bytes. Run with `cargo run --release --example footprint [N]`.
//! (`bench/objects.sh` measures the whole server; this isolates the store.)

use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use shellac_cache::body::{Cursor, State};
use shellac_cache::{Cache, Head, Headers, Kind, Lookup, Object, Query, Storage, Ttl};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
        * 1024
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let cache = Cache::with_storage(Storage::new("s0", u64::MAX / 2));
    let mut map = HeaderMap::new();
    for (k, v) in [
        ("server", "nginx/1.22.1"),
        ("date", "Sun, 06 Dec 2026 14:00:00 GMT"),
        ("content-type", "text/plain"),
        ("content-length", "100"),
        ("cache-control", "max-age=3600"),
    ] {
        map.insert(k, HeaderValue::from_static(v));
    }
    let header_bytes: u64 = map.iter().map(|(k, v)| (k.as_str().len() + v.len()) as u64).sum();
    let body = vec![b'x'; 100];
    let h = HeaderMap::new();
    let q = Query { gzip_support: true, ..Query::new(1000.0, &h, b"/") };
    let waker = Waker::noop();
    let before = rss();
    for i in 0..n {
        // As uniform as a SHA-256 (splitmix64 of the counter).
        let mut key = [0u8; 32];
        for (j, part) in key.chunks_mut(8).enumerate() {
            let mut z = (i * 4 + j as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            part.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q) else { panic!("a miss") };
        let head = Head::new(200, "OK", false, Headers::from_map(&map));
        let obj = fetch.insert(Object::new(
            head,
            Ttl { t_origin: 1000.0, ttl: 3600.0, grace: 10.0, keep: 0.0 },
            Kind::Normal,
        ));
        cache.append(&obj, Bytes::copy_from_slice(&body));
        cache.finish(&obj, State::Complete);
        // The miss's delivery.
        let _ = obj.head.headers.to_map(4);
        let mut cursor = Cursor::default();
        while let Poll::Ready(Some(Ok(_))) = obj.body.poll_chunk(&mut cursor, &mut Context::from_waker(waker)) {}
    }
    let grown = rss() - before;
    println!(
        "{n} objects: {:.0} B per object beyond the body, {:.0} B beyond the body and the {header_bytes} header bytes; store accounting {:.0} B per object",
        grown as f64 / n as f64 - body.len() as f64,
        grown as f64 / n as f64 - (body.len() as u64 + header_bytes) as f64,
        cache.storage().used() as f64 / n as f64,
    );
}
