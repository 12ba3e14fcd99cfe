#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ESP / raw-crypto ratios from an esp_bench JSON run.

    build/release/benchmarks/esp_bench --benchmark_repetitions=5 \\
        --benchmark_enable_random_interleaving=true \\
        --benchmark_format=json > esp.json      # or --benchmark_out=esp.json
    python3 benchmarks/esp_ratios.py esp.json [--stat min|median] [--markdown]

For every esp_{encap,decap}/<suite>/<variant>/<size> it finds the matching
raw_{encap,decap}/... and prints ns per packet of both and their ratio. With
repetitions, each benchmark's figure is the fastest (--stat min, the default)
or the median repetition, computed from the individual runs (the aggregate
rows are used only when a file has no others, as with
--benchmark_report_aggregates_only). Several files may be given: their runs
are pooled.
Standard library only.
"""

import argparse
import json
import statistics
import sys

_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load_runs(paths, field):
    """name -> list of ns per iteration, from the iteration rows of the files."""
    runs = {}
    medians = {}  # from the aggregate rows, for output written with --benchmark_report_aggregates_only
    errors = []
    for path in paths:
        with open(path, encoding="utf-8") if path != "-" else sys.stdin as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"])
            if b.get("error_occurred"):
                errors.append(f"{name}: {b.get('error_message', 'error')}")
                continue
            scale = _NS[b.get("time_unit", "ns")]
            if b.get("run_type", "iteration") == "iteration":
                runs.setdefault(name, []).append(b[field] * scale)
            elif b.get("aggregate_name") == "median":
                medians.setdefault(name, []).append(b[field] * scale)
    aggregated = [name for name in medians if name not in runs]
    for name in aggregated:
        runs[name] = medians[name]
    return runs, errors, bool(aggregated)


def sort_key(key):
    suite, variant, size = key
    return (variant != "tunnel4", variant, suite_order(suite), int(size))


_SUITES = [
    "aes256gcm16",
    "chacha20poly1305",
    "aes128gcm16",
    "aes128cbc+hmac_sha2_256_128",
    "aes128ctr+aes_xcbc_96",
    "null+hmac_sha1_96",
]


def suite_order(suite):
    return _SUITES.index(suite) if suite in _SUITES else len(_SUITES)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="+", help="esp_bench --benchmark_format=json output ('-': stdin)")
    parser.add_argument("--stat", choices=["min", "median"], default="min",
                        help="how to combine repetitions (default: min, the fastest)")
    parser.add_argument("--time", choices=["cpu", "real"], default="cpu",
                        help="cpu_time (default) or real_time")
    parser.add_argument("--target", type=float, default=1.10,
                        help="mark ratios above this (default 1.10)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    runs, errors, aggregated = load_runs(args.json, args.time + "_time")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    combine = min if args.stat == "min" else statistics.median
    figure = {name: combine(times) for name, times in runs.items()}
    count = {name: len(times) for name, times in runs.items()}

    rows = {}
    for name in figure:
        parts = name.split("/")
        if len(parts) != 4 or parts[0] not in ("esp_encap", "esp_decap"):
            continue
        direction = parts[0][len("esp_"):]
        raw = "/".join(["raw_" + direction] + parts[1:])
        if raw not in figure:
            print(f"warning: no {raw} for {name}", file=sys.stderr)
            continue
        rows.setdefault(tuple(parts[1:]), {})[direction] = (figure[name], figure[raw])

    if not rows:
        print("no esp_*/raw_* pairs found", file=sys.stderr)
        return 1

    reps = sorted(set(count.values()))
    over = 0

    def cell(pair):
        nonlocal over
        if pair is None:
            return ["-", "-", "-"]
        esp, raw = pair
        ratio = esp / raw
        mark = " *" if ratio > args.target else ""
        over += bool(mark)
        return [f"{esp:,.0f}", f"{raw:,.0f}", f"{ratio:.3f}{mark}"]

    header = ["suite", "variant", "size", "encap esp ns", "encap raw ns", "encap ratio",
              "decap esp ns", "decap raw ns", "decap ratio"]
    table = []
    for key in sorted(rows, key=sort_key):
        r = rows[key]
        table.append(list(key) + cell(r.get("encap")) + cell(r.get("decap")))

    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] * 3 + ["--:"] * 6) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
        for row in table:
            print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print(f"\n{args.stat} of {'/'.join(map(str, reps))} repetition(s), {args.time} time; "
          f"* = ratio above {args.target:.2f} ({over} cell(s))")
    if aggregated:
        print("(some figures are the median aggregate rows: the runs were not in the file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
