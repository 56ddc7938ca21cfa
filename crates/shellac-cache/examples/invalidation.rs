//! What invalidation costs in the store, against the number of objects stored:
//! - `xkey`: caches of 10^4, 10^5 and 10^6 objects (each with a surrogate key of its own, and
//!   every 10^5th-ish ten sharing one more), and the time of `xkey.purge` of a key on 10 of them;
//! - `bans`: the time of a lookup hit with no ban, with 1,000 active request bans the object was
//!   already tested against (the usual case: each object is tested against a ban once), and the
//!   one-time test of an object against 1,000 bans.
//!
//! Medians of many runs, in microseconds. `cargo run --release --example invalidation`
//! (`bench/invalidation.sh` runs it).

use std::sync::Arc;
use tokio::time::Instant;

use http::{HeaderMap, HeaderValue};
use shellac_cache::ban::{Pattern, Spec};
use shellac_cache::{Cache, Head, Headers, Key, Kind, Lookup, Object, Query, Storage, Ttl};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn key(i: u64) -> Key {
    let mut k = [0u8; 32];
    // Spread over the shards as SHA-256 keys are.
    let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    k[..8].copy_from_slice(&h.to_le_bytes());
    k[8..16].copy_from_slice(&i.to_le_bytes());
    k
}

fn store(cache: &Cache, k: Key, xkey: &str) {
    let mut map = HeaderMap::new();
    map.insert("content-type", HeaderValue::from_static("text/plain"));
    if !xkey.is_empty() {
        map.insert("xkey", HeaderValue::from_str(xkey).expect("a header value"));
    }
    let h = HeaderMap::new();
    let Lookup::Miss { fetch, .. } = cache.lookup(&k, &Query::new(1000.0, &h, b"/")) else { panic!("a miss") };
    let ttl = Ttl { t_origin: 1000.0, ttl: 1e9, grace: 0.0, keep: 0.0 };
    let obj = fetch.insert(Object::new(Head::new(200, "OK", false, Headers::from_map(&map)), ttl, Kind::Normal));
    cache.finish(&obj, shellac_cache::body::State::Complete);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A regex stand-in for the store alone: a substring test (the engine gives VCL's regexes).
struct Sub(Vec<u8>);

impl Pattern for Sub {
    fn is_match(&self, s: &[u8]) -> bool {
        s.windows(self.0.len()).any(|w| w == &self.0[..])
    }
}

fn spec(s: &str) -> Spec {
    Spec::from_vcl(s, &|p| Ok(Arc::new(Sub(p.as_bytes().to_vec())) as Arc<dyn Pattern>)).expect("a ban")
}

fn xkey() {
    println!("xkey.purge of a key on 10 objects (median of 200, µs):");
    for n in [10_000u64, 100_000, 1_000_000] {
        let cache = Cache::with_storage(Storage::new("s0", u64::MAX / 2));
        cache.xkeys().enable();
        for i in 0..n {
            store(&cache, key(i), &format!("obj-{i} group-{}", i / 10));
        }
        let mut times = Vec::new();
        let mut next = n;
        for round in 0..200u64 {
            // Ten objects under a key of their own, purged: the cache stays at n objects.
            let group = format!("bench-{round}");
            for _ in 0..10 {
                store(&cache, key(next), &format!("{group} obj-{next}"));
                next += 1;
            }
            let t = Instant::now();
            let hit = cache.xkey_purge(group.as_bytes(), false, 2000.0);
            times.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(hit, 10);
        }
        println!("  {n:>9} objects: {:.2}", median(times));
    }
}

fn bans() {
    let h = HeaderMap::new();
    let cache = Cache::with_storage(Storage::new("s0", u64::MAX / 2));
    const N: u64 = 100_000;
    for i in 0..N {
        store(&cache, key(i), "");
    }
    let lookups = |cache: &Cache| {
        let mut times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            for i in 0..N {
                let Lookup::Hit(_) = cache.lookup(&key(i), &Query::new(2000.0, &h, b"/page")) else { panic!("a hit") };
            }
            times.push(t.elapsed().as_secs_f64() * 1e6 / N as f64);
        }
        median(times)
    };
    let none = lookups(&cache);
    // An object nobody asks for holds the oldest ban: the 1,000 stay active.
    store(&cache, key(u64::MAX), "");
    for b in 0..1000 {
        cache.bans().add(spec(&format!("req.url ~ /nothing/{b}")), 1500.0, false);
    }
    let t = Instant::now();
    for i in 0..N {
        let Lookup::Hit(_) = cache.lookup(&key(i), &Query::new(2000.0, &h, b"/page")) else { panic!("a hit") };
    }
    let first = t.elapsed().as_secs_f64() * 1e6 / N as f64;
    let after = lookups(&cache);
    println!("lookup hit, median of 20 rounds over {N} objects (µs):");
    println!("  no ban: {none:.3}");
    println!(
        "  1,000 active bans ({} in the list), tested already: {after:.3} ({:.2}x)",
        cache.bans().len(),
        after / none
    );
    println!("  the first lookup of each object, testing 1,000 bans: {first:.2}");
}

fn rss() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .unwrap_or(0.0)
        * 1024.0
}

/// What a ban that stays in the list costs (a request ban, held by an object never looked up).
fn ban_memory() {
    let cache = Cache::with_storage(Storage::new("s0", u64::MAX / 2));
    store(&cache, key(1), "");
    const N: usize = 100_000;
    let before = rss();
    for b in 0..N {
        cache.bans().add(spec(&format!("req.url ~ ^/news/{b}")), 1500.0, false);
    }
    let after = rss();
    println!("{N} bans in the list: {:.0} bytes each (RSS growth)", (after - before) / N as f64);
}

fn main() {
    xkey();
    bans();
    ban_memory();
}
