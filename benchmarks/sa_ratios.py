#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Security-database tables and scaling ratios from an sa_bench JSON run.

    build/release/benchmarks/sa_bench --benchmark_repetitions=5 \\
        --benchmark_format=json > sa.json
    python3 benchmarks/sa_ratios.py sa.json [--stat min|median] [--markdown]

Prints four tables:
  - SAD: ns per lookup at each number of installed SAs (sad_lookup and the
    dependent sad_lookup_chain, each beside its memory floors: one load at a
    random index of n pointers, or of a 16-octet slot in an array as large as
    the Sad's table; the 16-SPI burst), the ratio of the largest to the
    smallest table (target --sad-target, 1.5), and the heap octets per SA
    (ESP SA, SAD entry, table; counters of the run);
  - SPD: ns per lookup per shape and policy count, tuples, the first-match
    scan where it ran, and the ratio of the largest to the smallest (target
    --spd-target, 2.0);
  - datapath: Datapath::outbound / inbound beside esp::seal / esp::open on the
    same SAs and buffers, and their ratio (target --dp-target, 1.15);
  - sa_create: ns and heap octets per InboundSa by suite.
Repetitions are combined as in esp_ratios.py (whose loader this uses): the
fastest (--stat min, the default) or the median, several files pooled.
Standard library only.
"""

import argparse
import json
import statistics
import sys

from esp_ratios import load_runs

_PER_ITERATION = {"sad_lookup_burst16": 16}  # lookups per iteration


def load_counters(paths):
    """name -> {counter: value} from the first iteration row of each benchmark."""
    known = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
             "real_time", "cpu_time", "time_unit", "family_index", "per_family_instance_index",
             "aggregate_name", "aggregate_unit", "label", "error_occurred", "error_message",
             "bytes_per_second", "items_per_second"}
    counters = {}
    for path in paths:
        with open(path, encoding="utf-8") if path != "-" else sys.stdin as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"])
            if name in counters or b.get("error_occurred"):
                continue
            counters[name] = {k: v for k, v in b.items() if k not in known}
            if "label" in b:
                counters[name]["label"] = b["label"]
    return counters


def table(header, rows, markdown, left):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] * left + ["--:"] * (len(header) - left)) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) if i < left else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
        for r in rows:
            print("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print()


def ns(v, digits=1):
    return "-" if v is None or v == 0 else f"{v:,.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="+", help="sa_bench --benchmark_format=json output ('-': stdin)")
    parser.add_argument("--stat", choices=["min", "median"], default="min")
    parser.add_argument("--time", choices=["cpu", "real"], default="cpu")
    parser.add_argument("--sad-target", type=float, default=1.5)
    parser.add_argument("--spd-target", type=float, default=2.0)
    parser.add_argument("--dp-target", type=float, default=1.15)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()

    runs, errors, _ = load_runs(args.json, args.time + "_time")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    counters = load_counters(args.json)
    combine = min if args.stat == "min" else statistics.median
    figure = {}
    for name, times in runs.items():
        figure[name] = combine(times) / _PER_ITERATION.get(name.split("/")[0], 1)
    count = {name: len(times) for name, times in runs.items()}

    def get(name):
        return figure.get(name)

    # SAD
    sizes = sorted({int(n.split("/")[1]) for n in figure if n.startswith("sad_lookup/")})
    if sizes:
        kinds = ["sad_lookup", "floor_lookup", "floor_slot_lookup", "sad_lookup_chain", "floor_chain",
                 "floor_slot_chain", "sad_lookup_burst16"]
        rows = [[f"{n:,}"] + [ns(get(f"{k}/{n}")) for k in kinds] for n in sizes]
        lo, hi = sizes[0], sizes[-1]
        ratio_row = [f"ratio {hi:,}/{lo:,}"]
        for k in kinds:
            a, b = get(f"{k}/{lo}"), get(f"{k}/{hi}")
            r = b / a if a and b else None
            mark = " *" if k.startswith("sad_lookup") and r is not None and r > args.sad_target else ""
            ratio_row.append("-" if r is None else f"{r:.2f}{mark}")
        rows.append(ratio_row)
        print(f"SAD lookup, ns per lookup (* = above {args.sad_target:.2f})")
        table(["SAs"] + kinds, rows, args.markdown, 1)
        mem = []
        for n in sizes:
            c = counters.get(f"sad_lookup/{n}", {})
            mem.append([f"{n:,}", ns(c.get("table_slots"), 0)] +
                       [ns(c.get(k), 0) for k in ["esp_sa_B", "sad_entry_B", "sad_table_B", "heap_B_per_sa",
                                                  "rss_B_per_sa"]] + [ns(c.get("build_s"), 2)])
        print("heap octets per installed inbound SA")
        table(["SAs", "table slots", "ESP SA", "SAD entry", "SAD table", "heap total", "RSS", "build s"], mem,
              args.markdown, 1)

    # SPD
    spd = sorted({(n.split("/")[1], int(n.split("/")[2])) for n in figure if n.startswith("spd_lookup/")},
                 key=lambda k: (k[0] != "site", k[1]))
    if spd:
        rows = []
        for shape in dict.fromkeys(s for s, _ in spd):
            counts = [n for s, n in spd if s == shape]
            for n in counts:
                c = counters.get(f"spd_lookup/{shape}/{n}", {})
                rows.append([shape, f"{n:,}", ns(c.get("policies"), 0), ns(c.get("tuples"), 0),
                             ns(get(f"spd_lookup/{shape}/{n}")), ns(get(f"spd_linear/{shape}/{n}"))])
            a, b = get(f"spd_lookup/{shape}/{counts[0]}"), get(f"spd_lookup/{shape}/{counts[-1]}")
            if a and b:
                r = b / a
                mark = " *" if r > args.spd_target else ""
                rows.append([shape, f"ratio {counts[-1]:,}/{counts[0]:,}", "", "", f"{r:.2f}{mark}", ""])
        print(f"SPD lookup (outbound), ns per lookup (* = above {args.spd_target:.2f})")
        table(["shape", "PROTECT policies", "policies", "tuples", "spd_lookup", "first-match scan"], rows,
              args.markdown, 2)

    # Datapath
    rows = []
    for name in sorted(figure):
        parts = name.split("/")
        if parts[0] not in ("dp_outbound", "dp_inbound") or len(parts) != 5:
            continue
        base = ("esp_seal" if parts[0] == "dp_outbound" else "esp_open") + "/" + "/".join(parts[1:])
        if base not in figure:
            print(f"warning: no {base} for {name}", file=sys.stderr)
            continue
        r = figure[name] / figure[base]
        mark = " *" if r > args.dp_target else ""
        rows.append([parts[0][3:], parts[1], parts[2], parts[3], parts[4], ns(figure[name], 0), ns(figure[base], 0),
                     f"{figure[name] - figure[base]:,.0f}", f"{r:.3f}{mark}"])
    rows.sort(key=lambda r: (r[0] != "outbound", r[3] != "random", int(r[4])))
    if rows:
        print(f"datapath / plain ESP, ns per packet (* = above {args.dp_target:.2f})")
        table(["direction", "suite", "SAs", "spread", "size", "Datapath", "esp only", "difference", "ratio"], rows,
              args.markdown, 5)

    # SA creation
    rows = []
    for name in sorted(n for n in figure if n.startswith("sa_create/")):
        c = counters.get(name, {})
        rows.append([name.split("/")[1], str(c.get("label", "")), ns(figure[name], 0), ns(c.get("heap_B"), 0)])
    if rows:
        print("InboundSa::create, ns and heap octets per SA")
        table(["suite", "backend", "create ns", "heap octets"], rows, args.markdown, 2)

    reps = sorted(set(count.values()))
    print(f"{args.stat} of {'/'.join(map(str, reps))} repetition(s), {args.time} time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
