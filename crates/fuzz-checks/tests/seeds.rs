//! Every fuzz target's body on stable, in every test run: over its seeds in `fuzz/seeds/`
//! (the inputs the suite itself uses, and every input a fuzzer once crashed on), then over
//! seeded mutations of them — a few thousand per target, the same on every run, so a
//! failure replays. The long, coverage-guided runs are cargo-fuzz's (fuzz/README.md).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use podnet_fuzz_checks::TARGETS;
use podnet_test_util::Rng;

/// Mutated inputs per target (each test stays within seconds in a debug build).
const MUTATIONS: usize = 3000;

/// Bytes that steer parsers into their other branches: JSON/YAML syntax, DNS pointers and
/// lengths, NULs, numbers at the edges.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"-1",
    b"0",
    b"65536",
    b"18446744073709551616",
    b"1e309",
    b"\\u0000",
    b"\0",
    b"\xff",
    b"\xc0",
    b"\xc0\x0c",
    b"\n",
    b"  ",
    b"- ",
    b"---\n",
    b"&a",
    b"*a",
    b"!!binary",
    b"{}",
    b"[]",
    b"/",
    b"~1",
    b"$patch",
    b"::",
    b"10.0.0.0/8",
    b"fd00::/8",
];

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())))
        .collect()
}

/// One to four random edits of a seed (or of nothing): byte changes, token insertions,
/// deletions, duplications, and splices from another seed.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = if seeds.is_empty() {
        Vec::new()
    } else {
        seeds[rng.below(seeds.len())].clone()
    };
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let last = data.len() - 1;
                data[at.min(last)] = rng.next_u64() as u8;
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            2 => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(64)).min(data.len());
                let chunk = data[at..end].to_vec();
                data.splice(at..at, chunk);
            }
            4 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(128)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let n = rng.below(32);
                data.splice(at..at, (0..n).map(|_| rng.next_u64() as u8));
            }
        }
    }
    data
}

fn run(target: &str) {
    let (_, check) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no fuzz target {target}"));
    let seeds = seeds(target);
    let mut rng = Rng::new(0x5eed ^ target.len() as u64);
    let inputs = seeds
        .iter()
        .cloned()
        .chain((0..MUTATIONS).map(|_| mutate(&mut rng, &seeds)));
    for (i, input) in inputs.enumerate() {
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            panic!(
                "{target}: input {i} breaks it (save it under fuzz/seeds/{target}/ to keep it): \"{}\"",
                input.escape_ascii()
            );
        }
    }
}

/// A cargo-fuzz target whose body is not in [`TARGETS`] would never run in the suite.
#[test]
fn every_cargo_fuzz_target_is_checked_here() {
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(&fuzz_dir)
        .expect("fuzz/fuzz_targets")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".rs")?.to_owned())
        })
        .collect();
    on_disk.sort();
    let mut checked: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    checked.sort();
    assert_eq!(on_disk, checked);
}

#[test]
fn dns_message_survives_its_seeds_and_their_mutations() {
    run("dns_message");
}

#[test]
fn corefile_survives_its_seeds_and_their_mutations() {
    run("corefile");
}

#[test]
fn cni_config_survives_its_seeds_and_their_mutations() {
    run("cni_config");
}

#[test]
fn ipam_state_survives_its_seeds_and_their_mutations() {
    run("ipam_state");
}

#[test]
fn api_body_survives_its_seeds_and_their_mutations() {
    run("api_body");
}

#[test]
fn api_patch_survives_its_seeds_and_their_mutations() {
    run("api_patch");
}

#[test]
fn kind_config_survives_its_seeds_and_their_mutations() {
    run("kind_config");
}
