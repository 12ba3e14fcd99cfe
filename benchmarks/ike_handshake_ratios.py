#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""IKEv2 handshake overhead from an ike_handshake_bench JSON run.

    build/release/benchmarks/ike_handshake_bench --benchmark_repetitions=5 \\
        --benchmark_enable_random_interleaving=true --benchmark_format=json > hs.json
    python3 benchmarks/ike_handshake_ratios.py hs.json [--stat min|median] [--markdown] [--detail]

For each case it prints handshake/<case> (a whole IKE_SA_INIT + IKE_AUTH
between two engines) beside crypto_sum/<sum> (the primitive calls of one
handshake, measured as one sequence), and

    overhead = handshake / crypto_sum - 1

which must not exceed --target (0.30: the protocol engine adds at most 30 %
to the crypto-bound time). handshake/<case> closes each IKE SA under
PauseTiming; what one pause adds to the timed part (timer/pause_resume, the
clock reads around it) is subtracted from it unless --no-pause-correction
is given. Beside them: the sum added up by hand from the
prim/* figures with the recipe the run recorded in its context (a check
that crypto_sum measures what its parts cost), and what the Delete exchange
adds (handshake_close - handshake). --detail lists the recipe: count, time
per call and share of the sum for each primitive. Repetitions are combined
as in esp_ratios.py (whose loader this uses): the fastest (--stat min, the
default) or the median, several files pooled.

Exit status: 0 when every case meets the target, 1 when one misses it, 2
when figures are missing. Standard library only.
"""

import argparse
import json
import statistics
import sys

from esp_ratios import load_runs

# handshake/<case> -> crypto_sum/<sum>
_CASES = [("psk_x25519_aesgcm", "psk"), ("ecdsa_p256_certs", "ecdsa")]


def load_context(paths):
    """The run's context (recipes, message sizes) from the first file that has it."""
    for path in paths:
        with open(path, encoding="utf-8") if path != "-" else sys.stdin as f:
            context = json.load(f).get("context", {})
        if any(k.startswith("recipe ") for k in context):
            return context
    return {}


def parse_recipe(text):
    """'prim/a*2 prim/b*1' -> [('prim/a', 2), ('prim/b', 1)]"""
    items = []
    for item in text.split():
        name, _, count = item.rpartition("*")
        items.append((name, int(count)))
    return items


def print_table(header, rows, markdown, left=1):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] * left + ["--:"] * (len(header) - left)) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) if i < left else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for row in rows:
        print("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def us(ns):
    return f"{ns / 1e3:,.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="+", help="ike_handshake_bench --benchmark_format=json output ('-': stdin)")
    parser.add_argument("--stat", choices=["min", "median"], default="min",
                        help="how to combine repetitions (default: min, the fastest)")
    parser.add_argument("--time", choices=["cpu", "real"], default="cpu", help="cpu_time (default) or real_time")
    parser.add_argument("--target", type=float, default=0.30,
                        help="the largest acceptable overhead (default 0.30)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--detail", action="store_true", help="also list each case's primitives")
    parser.add_argument("--no-pause-correction", action="store_true",
                        help="do not subtract timer/pause_resume from handshake/<case>")
    args = parser.parse_args()

    runs, errors, aggregated = load_runs(args.json, args.time + "_time")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    combine = min if args.stat == "min" else statistics.median
    figure = {name: combine(times) for name, times in runs.items()}
    count = {name: len(times) for name, times in runs.items()}
    context = load_context(args.json)
    pause = 0.0 if args.no_pause_correction else figure.get("timer/pause_resume", 0.0)

    rows, details, missed, missing = [], [], 0, 0
    for case, total in _CASES:
        hs, cs = f"handshake/{case}", f"crypto_sum/{total}"
        if hs not in figure or cs not in figure:
            print(f"warning: no {hs} or {cs}", file=sys.stderr)
            missing += 1
            continue
        handshake = figure[hs] - pause
        overhead = handshake / figure[cs] - 1
        met = overhead <= args.target
        missed += not met
        recipe = parse_recipe(context.get(f"recipe {cs}", ""))
        by_hand = None
        if recipe and all(name in figure for name, _ in recipe):
            by_hand = sum(figure[name] * n for name, n in recipe)
            details.append((case, cs, recipe, by_hand))
        elif recipe:
            absent = [name for name, _ in recipe if name not in figure]
            print(f"warning: {cs}: no figures for {', '.join(absent)}", file=sys.stderr)
        close = figure.get(f"handshake_close/{case}")
        rows.append([
            case,
            us(handshake),
            f"{1e9 / handshake:,.0f}",
            us(figure[cs]),
            us(by_hand) if by_hand is not None else "-",
            f"{100 * overhead:.1f} %",
            "met" if met else "MISSED",
            us(close - handshake) if close is not None else "-",
        ])

    if not rows:
        print("no handshake/crypto_sum pairs found", file=sys.stderr)
        return 2
    print_table(["case", "handshake µs", "handshakes/s", "crypto_sum µs", "sum of prim/* µs", "overhead",
                 f"target {100 * args.target:.0f} %", "close adds µs"], rows, args.markdown)

    if args.detail:
        for case, cs, recipe, by_hand in details:
            print(f"\n{cs} ({case}): {by_hand / 1e3:,.1f} µs added up, {figure[cs] / 1e3:,.1f} µs measured")
            lines = sorted(recipe, key=lambda item: -figure[item[0]] * item[1])
            print_table(["primitive", "calls", "µs each", "µs in all", "share"], [
                [name, str(n), f"{figure[name] / 1e3:,.3f}", f"{figure[name] * n / 1e3:,.2f}",
                 f"{100 * figure[name] * n / by_hand:.1f} %"] for name, n in lines], args.markdown)

    reps = sorted(set(count.values()))
    print(f"\n{args.stat} of {'/'.join(map(str, reps))} repetition(s), {args.time} time; "
          f"overhead = handshake / crypto_sum - 1, target <= {100 * args.target:.0f} %")
    if pause:
        print(f"handshake/* less timer/pause_resume ({pause:,.0f} ns per iteration)")
    if aggregated:
        print("(some figures are the median aggregate rows: the runs were not in the file)")
    return 2 if missing else (1 if missed else 0)


if __name__ == "__main__":
    sys.exit(main())
