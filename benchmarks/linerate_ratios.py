#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ESP / raw ipsec-mb tables from a linerate_bench JSON run.

    build/release/benchmarks/linerate_bench --benchmark_repetitions=5 \\
        --benchmark_min_time=0.05 --benchmark_enable_random_interleaving=true \\
        --benchmark_out=linerate.json --benchmark_out_format=json
    python3 benchmarks/linerate_ratios.py linerate.json [--stat min|median] [--markdown]

Pairs every esp_<op>/<rest> with raw_<op>/<rest> and rawjob_<op>/<rest> (the
direct call and the job API, both shown; the faster of the two is the
baseline of the ratio and the difference), per packet: a burst<n> op divides the iteration time by n.
Targets (issue 11): 1400-octet AES-GCM encap and decap at most 1.15x raw for
single packets and 1.10x in bursts of 32 (one SA; the 4-SA and cold rows are
shown without a target); a 64-octet AES-GCM burst at most 25 ns per packet above
raw; the AES-CBC + HMAC-SHA-256-128 burst of 16 at most 1.15x raw; the
datapath with separate SAs at least 1.8x the packets per second with two
threads as with one. Rows without a target show '-'.
Single-thread figures use cpu_time (--time real to change); the threaded
ones (/real_time/threads:<n>) always real time, as Google Benchmark computed
their items_per_second. With repetitions, a figure is the fastest (min, the
default) or the median run. Several files may be given: their runs are
pooled. Standard library only.
"""

import argparse
import json
import re
import statistics
import sys

_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

SINGLE_1400_MAX_RATIO = 1.15
BURST_1400_MAX_RATIO = 1.10
BURST_64_MAX_DIFF_NS = 25.0
CBC_MAX_RATIO = 1.15
THREAD_MIN_SCALING = 1.8


def load_runs(paths):
    """name -> list of run dicts (iteration rows; median aggregates if that is all there is)."""
    runs, medians, errors = {}, {}, []
    for path in paths:
        with open(path, encoding="utf-8") if path != "-" else sys.stdin as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"])
            if b.get("error_occurred"):
                errors.append(f"{name}: {b.get('error_message', 'error')}")
                continue
            if b.get("run_type", "iteration") == "iteration":
                runs.setdefault(name, []).append(b)
            elif b.get("aggregate_name") == "median":
                medians.setdefault(name, []).append(b)
    aggregated = [n for n in medians if n not in runs]
    for n in aggregated:
        runs[n] = medians[n]
    return runs, errors, bool(aggregated)


def packets_per_iteration(op):
    m = re.search(r"burst(\d+)$", op)
    return int(m.group(1)) if m else 1


def table(header, rows, markdown, left=1):
    if markdown:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join(["---"] * left + ["--:"] * (len(header) - left)) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = lambda r: "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="+", help="linerate_bench JSON output ('-': stdin)")
    parser.add_argument("--stat", choices=["min", "median"], default="min",
                        help="how to combine repetitions (default: min, the fastest)")
    parser.add_argument("--time", choices=["cpu", "real"], default="cpu",
                        help="cpu_time (default) or real_time for the single-thread pairs")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()

    runs, errors, aggregated = load_runs(args.json)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    fastest = args.stat == "min"
    combine = min if fastest else statistics.median
    field = args.time + "_time"

    def ns(name, f=field):
        return combine([r[f] * _NS[r.get("time_unit", "ns")] for r in runs[name]])

    def rate(name):  # items_per_second: the fastest run has the highest rate
        values = [r["items_per_second"] for r in runs[name] if "items_per_second" in r]
        if not values:
            return None
        return max(values) if fastest else statistics.median(values)

    failed = 0
    sections = []

    # ESP beside raw, per packet.
    pairs = []
    for name in runs:
        parts = name.split("/")
        if not parts[0].startswith("esp_") or len(parts) != 4:
            continue
        op = parts[0][len("esp_"):]
        n = packets_per_iteration(op)
        esp = ns(name) / n
        candidates = {}
        for side in ("raw", "rawjob"):
            raw_name = "/".join([f"{side}_{op}"] + parts[1:])
            if raw_name in runs:
                candidates[side] = ns(raw_name) / n
        if not candidates:
            print(f"warning: no raw_/rawjob_ pair for {name}", file=sys.stderr)
            continue
        raw = min(candidates.values())
        cells = [f"{candidates[side]:,.1f}" if side in candidates else "-" for side in ("raw", "rawjob")]
        suite, shape, size = parts[1], parts[2], parts[3]
        ratio, diff = esp / raw, esp - raw
        target, ok = "-", None
        if op in ("encap", "decap") and size == "1400" and "gcm" in suite:
            target, ok = f"<= {SINGLE_1400_MAX_RATIO:.2f}x", ratio <= SINGLE_1400_MAX_RATIO
        elif "burst32" in op and size == "1400" and "gcm" in suite and shape == "1sa":
            target, ok = f"<= {BURST_1400_MAX_RATIO:.2f}x", ratio <= BURST_1400_MAX_RATIO
        elif "burst" in op and size == "64":
            target, ok = f"<= +{BURST_64_MAX_DIFF_NS:.0f} ns", diff <= BURST_64_MAX_DIFF_NS
        elif "burst" in op and "cbc" in suite:
            target, ok = f"<= {CBC_MAX_RATIO:.2f}x", ratio <= CBC_MAX_RATIO
        failed += ok is False
        verdict = "-" if ok is None else ("pass" if ok else "FAIL")
        pairs.append(((op.replace("burst", " burst"), suite, shape, int(size)),
                      [op, suite, shape, size, f"{esp:,.1f}", *cells, f"{ratio:.3f}", f"{diff:+,.1f}", target,
                       verdict]))
    order = {"encap": 0, "decap": 1}
    pairs.sort(key=lambda p: (order.get(p[0][0], 2), p[0][0], p[0][1], p[0][2] not in ("1sa", "tunnel4"),
                              p[0][2], p[0][3]))
    if pairs:
        sections.append("ESP vs raw ipsec-mb, ns per packet (ratio and difference against the faster raw)\n\n" + table(
            ["op", "suite", "shape", "size", "esp ns", "raw direct ns", "raw job API ns", "ratio", "esp - raw",
             "target", "result"], [p[1] for p in pairs], args.markdown, left=4))

    # Cold against hot: the same seal burst over a pool larger than the caches.
    cold = []
    for name in sorted(runs):
        parts = name.split("/")
        if len(parts) != 4 or parts[2] not in ("cold", "dram") or not parts[0].startswith("esp_"):
            continue
        hot = "/".join([parts[0], parts[1], "1sa", parts[3]])
        if hot not in runs:
            continue
        n = packets_per_iteration(parts[0])
        row = [parts[0][len("esp_"):], parts[1], parts[2], parts[3]]
        for side in ("esp", "raw", "rawjob"):
            c = "/".join([side + parts[0][3:], *parts[1:]])
            h = "/".join([side + parts[0][3:], parts[1], "1sa", parts[3]])
            if c in runs and h in runs:
                row += [f"{ns(h) / n:,.1f}", f"{ns(c) / n:,.1f}", f"{ns(c) / ns(h):.2f}"]
            else:
                row += ["-", "-", "-"]
        cold.append(row)
    if cold:
        sections.append("Cold cache, ns per packet (hot: the same burst on 32 buffers)\n\n" + table(
            ["op", "suite", "pool", "size", "esp hot", "esp cold", "cold/hot", "raw hot", "raw cold", "cold/hot",
             "rawjob hot", "rawjob cold", "cold/hot"], cold, args.markdown, left=4))

    # Threads: total packets per second, 1 and 2 threads.
    threaded = {}
    for name in runs:
        m = re.match(r"^(.*)/real_time/threads:(\d+)$", name)
        if m:
            threaded.setdefault(m.group(1), {})[int(m.group(2))] = rate(name)
    trows = []
    for base in sorted(threaded):
        t = threaded[base]
        one, two = t.get(1), t.get(2)
        scaling = two / one if one and two else None
        target, ok = "-", None
        if "/separate/" in base:
            target, ok = f">= {THREAD_MIN_SCALING:.1f}x", scaling is not None and scaling >= THREAD_MIN_SCALING
        failed += ok is False
        trows.append([base, f"{one / 1e6:.3f}" if one else "-", f"{two / 1e6:.3f}" if two else "-",
                      f"{scaling:.2f}x" if scaling else "-", target,
                      "-" if ok is None else ("pass" if ok else "FAIL")])
    if trows:
        sections.append("Threads (real time): million packets per second, all threads together\n\n" + table(
            ["benchmark", "1 thread", "2 threads", "scaling", "target", "result"], trows, args.markdown))

    # Backends.
    brows = []
    for name in sorted(runs):
        parts = name.split("/")
        if parts[0] != "backend_seal" or len(parts) != 4:
            continue
        t = ns(name)
        brows.append([parts[1], parts[2], parts[3], f"{t:,.0f}", f"{int(parts[3]) / t:.2f}"])
    if brows:
        sections.append("Aead::seal per backend\n\n" + table(
            ["suite", "backend", "size", "ns", "GB/s"], brows, args.markdown, left=3))

    if not sections:
        print("no linerate_bench figures found", file=sys.stderr)
        return 1
    print("\n\n".join(sections))
    reps = sorted({len(v) for v in runs.values()})
    print(f"\n{args.stat} of {'/'.join(map(str, reps))} repetition(s), {args.time} time for single-thread rows; "
          f"{failed} target(s) missed")
    if aggregated:
        print("(some figures are the median aggregate rows: the runs were not in the file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
