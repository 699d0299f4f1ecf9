"""What `.ci/session-figures OUTDIR rule` measured, as the closing note's tables: every pair of the unchanged runs
judged by the rule's first stage (no re-timing), and per benchmark its CPU median, CVs and GFLOP/s against the
machine's matmul figure, and each document's peak RSS.

    python3.11 .ci/rule-analysis.py OUTDIR/unchanged
"""
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from regsuite import perf  # noqa: E402


def main() -> None:
    storage = Path(sys.argv[1])
    runs = [perf.load_run(p) for p in perf.saved_runs(storage)]
    print(f"{len(runs)} unchanged runs: {', '.join(r.name for r in runs)}")

    flagged, total = [], 0
    for old, new in itertools.combinations(runs, 2):
        for change in perf.compare(old, new, perf.spec_min_effects()):
            total += 1
            if change.verdict == "regression":
                flagged.append((old.name[:4], new.name[:4], change.benchmark, round(change.ratio, 3)))
    print(f"first stage, every pair (old earlier): {len(flagged)} regressions of {total} comparisons")
    for row in flagged:
        print("  ", *row)

    print("\n| benchmark | rounds | median CPU s/epoch | CV within (cpu-rel) | CV between (cpu-rel) | CV between (wall) "
          "| GFLOP/s | of matmul |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    within_all, between_all = [], []
    for name in sorted(runs[0].samples):
        have = [r for r in runs if name in r.samples]
        kinds = [r.metric_samples(name)[0] for r in have]
        rel = [r.metric_samples(name)[1] for r in have]
        cpu = [r.cpu_samples(name) or r.samples[name] for r in have]
        wall_medians = [statistics.median(r.samples[name]) for r in have]
        within = statistics.median(perf.cv(s) for s in rel)
        rel_medians = [statistics.median(s) for s in rel]
        between = statistics.stdev(rel_medians) / statistics.fmean(rel_medians) if len(have) > 1 else 0.0
        between_wall = statistics.stdev(wall_medians) / statistics.fmean(wall_medians) if len(have) > 1 else 0.0
        gflops, frac = [], []
        for r, wm in zip(have, wall_medians):
            info = r.extra[name]
            if info.get("achieved_gflops") and info.get("steady_epoch_seconds"):  # a training benchmark
                gflops.append(info["achieved_gflops"] * info["steady_epoch_seconds"] / wm)
                if info.get("reference_matmul_gflops"):
                    frac.append(gflops[-1] / info["reference_matmul_gflops"])
            elif info.get("gflops"):  # the matmul reference
                gflops.append(float(info["gflops"]))
        short = name.split("::")[-1].replace("test_train_time[", "").rstrip("]").replace("[", " ")
        if kinds[0] == "cpu-rel":
            within_all.append(within)
            between_all.append(between)
        print(f"| {short} | {len(have[0].samples[name])} | {statistics.median(statistics.median(s) for s in cpu):.3f} "
              f"| {within:.1%} | {between:.1%} ({kinds[0]}) | {between_wall:.1%} "
              f"| {statistics.median(gflops) if gflops else float('nan'):.1f} "
              f"| {statistics.median(frac) if frac else float('nan'):.1%} |")
    if within_all:
        print(f"\nmedians over {len(within_all)} cpu-rel benchmarks: CV within {statistics.median(within_all):.1%}, "
              f"between {statistics.median(between_all):.1%} ({min(between_all):.1%}-{max(between_all):.1%})")

    print("\npeak RSS (MiB) by document, first pass, per run:")
    docs: dict[str, list[float]] = {}
    for r in runs:
        seen: dict[str, float] = {}
        for name, info in r.extra.items():
            doc = name.split("[", 1)[-1].split("/", 1)[0]
            if info.get("peak_rss_mb"):
                seen[doc] = max(seen.get(doc, 0.0), float(info["peak_rss_mb"]))
        for doc, mb in seen.items():
            docs.setdefault(doc, []).append(mb)
    for doc, values in sorted(docs.items()):
        print(f"  {doc}: {', '.join(f'{v:,.0f}' for v in values)}")


if __name__ == "__main__":
    main()
