#!/usr/bin/env python3
"""ADD and DEL latency of podnet-ipam next to Debian's host-local, same config, same host.

Usage: latency.py PODNET_IPAM_BINARY [RUNS]   (a release build: cargo build --release --bin podnet-ipam)

For each plugin: RUNS ADDs of distinct containers into a fresh /24 (so the directory grows
to RUNS reservations, as on a busy node), then a DEL of each. Prints the median and p90 of
wall time per call (fork+exec included, identical for both) and the median CPU time the
plugin process itself used (user+sys), with VERSION as the baseline of starting the process
at all. cniVersion 1.0.0, the highest host-local 1.1.1 speaks.
"""
import json, os, resource, statistics, subprocess, sys, tempfile, time

HOST_LOCAL = "/usr/lib/cni/host-local"


def call(binary, verb, cid, conf):
    env = {"CNI_COMMAND": verb, "CNI_CONTAINERID": cid, "CNI_NETNS": "/proc/self/ns/net",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([binary], input=conf, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{binary} {verb} {cid} failed: {out.stdout!r} {out.stderr!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1e3, cpu * 1e3


def measure(binary, runs):
    with tempfile.TemporaryDirectory() as data_dir:
        conf = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "bridge",
                           "ipam": {"type": "x", "dataDir": data_dir,
                                    "ranges": [[{"subnet": "10.77.0.0/24"}]]}}).encode()
        # VERSION does no work: it is the cost of starting the process at all.
        res = {"VERSION": [call(binary, "VERSION", "v", b"") for _ in range(runs)]}
        for verb in ("ADD", "DEL"):
            res[verb] = [call(binary, verb, f"c{i}", conf) for i in range(runs)]
        return res


def row(name, verb, samples):
    wall = sorted(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    p90 = wall[int(len(wall) * 0.9)]
    print(f"{name:12} {verb:7} median {statistics.median(wall):6.2f} ms  p90 {p90:6.2f} ms  cpu {cpu:5.2f} ms")


def main():
    podnet = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    for name, binary in (("host-local", HOST_LOCAL), ("podnet-ipam", podnet)):
        for verb, samples in measure(binary, runs).items():
            row(name, verb, samples)


if __name__ == "__main__":
    main()
