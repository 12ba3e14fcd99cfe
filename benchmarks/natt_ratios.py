#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""UDP 4500 receive path / plain ESP decapsulation ratios from a natt_bench JSON run.

    build/release/benchmarks/natt_bench --benchmark_repetitions=20 \\
        --benchmark_enable_random_interleaving=true --benchmark_format=json > natt.json
    python3 benchmarks/natt_ratios.py natt.json [--stat min|median] [--markdown]

For every udp4500_decap/<suite>/<outer>/<size> (classify_udp4500 + open_esp)
it finds esp_only_decap/<suite>/<outer>/<size> (open_esp on the same
packets) and prints ns per packet of both and their ratio; repetitions are
combined as in esp_ratios.py (whose loader this uses), several files pooled.
Standard library only.
"""

import argparse
import statistics
import sys

from esp_ratios import load_runs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="+", help="natt_bench --benchmark_format=json output ('-': stdin)")
    parser.add_argument("--stat", choices=["min", "median"], default="min")
    parser.add_argument("--time", choices=["cpu", "real"], default="cpu")
    parser.add_argument("--target", type=float, default=1.02, help="mark ratios above this (default 1.02)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    runs, errors, _ = load_runs(args.json, args.time + "_time")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    combine = min if args.stat == "min" else statistics.median
    figure = {name: combine(times) for name, times in runs.items()}
    count = {name: len(times) for name, times in runs.items()}

    rows = []
    for name in sorted(figure, key=lambda n: (n.split("/")[2:3], int(n.split("/")[-1]))):
        parts = name.split("/")
        if len(parts) != 4 or parts[0] != "udp4500_decap":
            continue
        plain = "/".join(["esp_only_decap"] + parts[1:])
        if plain not in figure:
            print(f"warning: no {plain} for {name}", file=sys.stderr)
            continue
        ratio = figure[name] / figure[plain]
        mark = " *" if ratio > args.target else ""
        rows.append(parts[1:] + [f"{figure[name]:,.0f}", f"{figure[plain]:,.0f}", f"{ratio:.3f}{mark}"])
    if not rows:
        print("no udp4500_decap/esp_only_decap pairs found", file=sys.stderr)
        return 1
    header = ["suite", "outer", "size", "classify+open_esp ns", "open_esp ns", "ratio"]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] * 3 + ["--:"] * 3) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
        for r in rows:
            print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    reps = sorted(set(count.values()))
    print(f"\n{args.stat} of {'/'.join(map(str, reps))} repetition(s), {args.time} time; "
          f"* = ratio above {args.target:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
