//! The what-if walk's own time (objects already listed) in a cluster of 1000 Services:
//! pod → Service by DNS name (every layer, the DNS records of every Service built), by
//! svc/, and pod → pod. Prints the median of 21 runs of each.
//!
//! `cargo bench -p podnet-trace --bench walk` (release) or `cargo run`-style in debug with
//! `cargo test -p podnet-trace --bench walk`.

use std::time::{Duration, Instant};

use podnet_trace::{Destination, Options, Spec, fixture, trace};

fn main() {
    let objects = fixture::with_services(1000);
    let options = Options::default();
    for (src, dst) in [
        ("default/client", "svc-500:80"),
        ("default/client", "svc/default/svc-500"),
        ("default/client", "default/web-2:8080"),
    ] {
        let (src, dst) = (Spec::parse(src).unwrap(), Destination::parse(dst).unwrap());
        let mut times: Vec<Duration> = (0..21)
            .map(|_| {
                let t = Instant::now();
                let r = trace(&objects, &src, &dst, &options).unwrap();
                assert!(r.broken().is_none(), "{r}");
                t.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "walk {src} → {dst} with {} Services: median {:.1} ms",
            objects.services.len(),
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
}
