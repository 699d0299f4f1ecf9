"""`regsuite list | run ID | plain | data | restamp | scan | perf compare | perf history`: the suite without pytest."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Sequence

from . import datasets
from .errors import RegsuiteError, invalid_value

if TYPE_CHECKING:
    from pathlib import Path

    from . import perf


def _cmd_list(args: argparse.Namespace) -> int:
    from .experiments import REGISTRY

    width = max(len(s.id) for s in REGISTRY)
    print(f"{'id'.ljust(width)}  tier  epochs  seeds  document / section / title")
    for s in REGISTRY:
        print(f"{s.id.ljust(width)}  {s.tier:<4}  {s.fit.epochs:>6}  {len(s.seeds):>5}  {s.source} / {s.section} / {s.title}")
    return 0


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _cmd_run(args: argparse.Namespace) -> int:
    from . import runner
    from .experiments import REGISTRY

    spec = REGISTRY.get(args.experiment)
    result = runner.run(spec, args.seed, data_dir=args.data_dir)
    metrics = list(result.history)
    doc = spec.documented.history
    print(f"{spec.id} (seed {result.seed}) - {spec.title}")
    print(f"source: {spec.source}, section {spec.section!r}")
    print(f"params: {result.params}   fit: {result.fit_seconds:.1f} s on {result.environment['device']} "
          f"({result.environment['backend']} backend, keras {result.environment['keras']})")
    header = ["epoch"] + [f"{m} (ours)" for m in metrics] + [f"{m} (doc)" for m in metrics if m in doc]
    print("  ".join(f"{h:>18}" for h in header))
    for e in range(result.epochs):
        row = [str(e + 1)] + [_fmt(result.history[m][e]) for m in metrics]
        row += [_fmt(doc[m][e] if e < len(doc[m]) else None) for m in metrics if m in doc]
        print("  ".join(f"{c:>18}" for c in row))
    for m, v in result.test.items():
        d = spec.documented.test.get(m)
        print(f"test {m}: {v:.4f}" + (f"   documented: {d:.4f}" if d is not None else ""))
    return 0


def _cmd_plain(args: argparse.Namespace) -> int:
    """The reference the full tier's wall time is judged against: each experiment trained once, as the
    documents run them (one process, one after another, one training step per compiled call)."""
    import os
    import time

    from . import runner
    from .experiments import REGISTRY
    from .serial import to_json

    specs = [REGISTRY.get(i) for i in args.experiments] if args.experiments else list(REGISTRY)
    before = os.environ.get(runner.PLAIN_LOOP_ENV)
    os.environ[runner.PLAIN_LOOP_ENV] = "1"
    results, per_source = [], {}
    start = time.perf_counter()
    try:
        for spec in specs:
            t0 = time.perf_counter()
            try:
                result = runner.run(spec, data_dir=args.data_dir)
            except runner.UnsupportedBackend as exc:
                print(f"{spec.id}: skipped - {exc}")
                continue
            took = time.perf_counter() - t0
            per_source[spec.source] = per_source.get(spec.source, 0.0) + took
            results.append(result)
            print(f"{spec.id} (seed {result.seed}): {took:.1f} s ({result.fit_seconds:.1f} s in fit)", flush=True)
    finally:
        if before is None:
            os.environ.pop(runner.PLAIN_LOOP_ENV)
        else:
            os.environ[runner.PLAIN_LOOP_ENV] = before
    total = time.perf_counter() - start
    for source, seconds in per_source.items():
        print(f"{source}: {seconds:.1f} s")
    print(f"plain way: {len(results)} runs in {total:.1f} s")
    if args.results:
        from .results import write_results

        write_results(args.results, [to_json(r) for r in results])
        print(f"results: {args.results}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    status = 0
    for name in sorted(datasets.LOADERS):
        try:
            ds = datasets.load(name, args.data_dir, download=args.download)
        except RegsuiteError as exc:
            print(f"{name}: MISSING - {exc}")
            status = 1
        else:
            print(f"{name}: {ds.source}  {ds.fingerprint}")
    return status


def _cmd_restamp(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import baselines
    from .experiments import REGISTRY

    for exp_id in args.experiments:
        spec = REGISTRY.get(exp_id)
        path = baselines.path_for(Path(args.baselines), spec.id)
        print(f"{spec.id}: {'restamped' if baselines.restamp(path, spec) else 'already current'} ({path})")
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    """Settings scan of a document whose printed runs hide their settings (today: keras_notes)."""
    from pathlib import Path

    from . import scan
    from .environment import snapshot
    from .experiments import REGISTRY, keras_notes

    results = {}
    for exp_id in args.experiments:
        spec = REGISTRY.get(exp_id)
        if exp_id not in keras_notes.SCANNED:
            raise RegsuiteError(invalid_value("experiment", f"one of {sorted(keras_notes.SCANNED)}", exp_id))
        rows = scan.scan(spec, keras_notes.FASHION_CANDIDATES, args.seeds, data_dir=args.data_dir)
        results[exp_id] = rows
        for r in rows[: args.top]:
            print(f"{exp_id}  {r['score']:.4f}  {r['candidate']}")
    command = "regsuite scan " + " ".join(args.experiments) + " --seeds " + " ".join(map(str, args.seeds))
    doc = scan.write(Path(args.out), results, args.seeds, command, snapshot())
    print(f"choice: {doc['choice']}\nwritten: {args.out}")
    return 0


def _cmd_perf_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import perf

    if len(args.runs) not in (0, 2):
        raise perf.PerfError(invalid_value("runs", "none (the last two saved runs) or two runs", args.runs))
    if args.reference_runs < 1:
        raise perf.PerfError(invalid_value("reference-runs", "a whole number >= 1", args.reference_runs))
    across = perf.across_keys(args.across) if args.across is not None else ()
    passes = perf.parse_passes(args.timing_pass) if args.timing_pass is not None else None
    metric = args.metric
    storage = Path(args.storage)
    if args.runs:
        old_paths, new_paths = (perf.resolve(storage, [n for n in side.split(",") if n]) for side in args.runs)
    else:
        old_paths, new_paths = ([p] for p in perf.resolve(storage, []))
    if len(old_paths) > 1 and args.reference_runs > 1:
        raise perf.PerfError(invalid_value("reference-runs", "1 where the old side names several runs (they are "
                                           "the reference)", args.reference_runs))
    old, new = (perf.reference([perf.load_run(p, passes) for p in paths]) for paths in (old_paths, new_paths))
    old_path, new_path = old_paths[-1], new_paths[-1]
    for side, paths in (("old", old_paths), ("new", new_paths)):
        print(f"{side}: {paths[0]}" if len(paths) == 1 else f"{side}: {len(paths)} runs pooled: "
              + ", ".join(p.stem.split("_")[0] for p in paths))
    if passes is not None:
        print(f"timing passes: {','.join(map(str, sorted(passes)))} only (the other passes' rounds left out)")
    differs = perf.incomparable(old.machine, new.machine, across)
    if differs:
        print("not comparable (other machine or library versions):")
        for line in differs:
            print(f"  {line}")
        keys = ",".join(line.split(":")[0] for line in differs)
        print(f"  (to measure that difference itself, pass --across {keys})")
        return perf.EXIT_NOT_COMPARABLE
    if across:
        studied = [line for line in perf.incomparable(old.machine, new.machine) if line.split(":")[0] in across]
        print("across: " + ("; ".join(studied) if studied else f"nothing named ({args.across}) differs"))
        if metric == "auto":
            # the control is a Keras fit on the same versions: dividing by it would divide out the very change
            metric = "cpu"
            print("metric: cpu seconds per round (not relative to the control, which the versions change too); "
                  "wall for GPU benchmarks")
    if args.reference_runs > 1:
        pooled = perf.reference_runs(Path(args.storage), old, args.reference_runs, passes)
        print(f"reference: {len(pooled)} comparable run(s) pooled: {', '.join(r.name.split('_')[0] for r in pooled)}")
        old = perf.reference(pooled)
    overrides = perf.spec_min_effects()
    history = perf.noise_runs(args.noise_runs, Path(args.storage), old, passes)
    floors = perf.noise_floors(history, metric)
    print(f"noise floors: {len(floors)} benchmark(s) from {len(history)} comparable run(s) of {args.noise_runs!r} "
          f"(min effect raised to {perf.NOISE_K:g} x run-to-run CV; needs {perf.MIN_HISTORY} runs)")
    changes = perf.compare(old, new, overrides, args.min_effect, metric=metric, noise=floors)
    if not changes:
        raise perf.PerfError(f"{old_path} and {new_path} share no benchmark")
    width = max(len(c.benchmark) for c in changes)
    print(f"{'benchmark'.ljust(width)}  metric  old median  new median   ratio  p (Mann-Whitney)  min effect  verdict")
    for c in changes:
        print(f"{c.benchmark.ljust(width)}  {c.metric:>6}  {c.old_median:10.4f}  {c.new_median:10.4f}  {c.ratio:6.3f}  "
              f"{c.p_value:16.4f}  {c.min_effect:10.0%}  {c.verdict}")
    regressions = [c for c in changes if c.verdict == "regression"]
    if regressions and args.confirm:
        regressions = _confirmed(old, new, regressions, Path(args.storage),
                                 dict(min_effects=overrides, default_min_effect=args.min_effect, metric=metric,
                                      noise=floors), across, passes)
    print(f"{len(regressions)} regression(s){' (confirmed)' if args.confirm else ''}, "
          f"{sum(c.verdict == 'improvement' for c in changes)} improvement(s), "
          f"{len(changes)} benchmark(s) compared (alpha {perf.ALPHA})")
    return perf.EXIT_REGRESSION if regressions else perf.EXIT_OK


def _confirmed(old: perf.SavedRun, new: perf.SavedRun, flagged: list[perf.Change], storage: Path,
               rule: dict, across: tuple[str, ...] = (), passes: frozenset[int] | None = None) -> list[perf.Change]:
    """Time the flagged benchmarks again in a fresh pytest process; keep those the re-timing flags too."""
    import shlex
    import subprocess

    from . import perf

    cmd = perf.rerun_command(new, [c.benchmark for c in flagged], storage)
    print(f"confirming {len(flagged)} flagged benchmark(s) in a fresh process:\n  {shlex.join(cmd)}", flush=True)
    folder = storage / perf.CONFIRM_DIR
    before = set(folder.rglob("*.json")) if folder.is_dir() else set()
    code = subprocess.call(cmd)
    made = sorted(set(folder.rglob("*.json")) - before) if folder.is_dir() else []
    if code != 0 or len(made) != 1:
        raise perf.PerfError(f"the re-timing exited {code} and saved {len(made)} run(s) under {folder} (expected 0 "
                             "and 1); run the command above to see why")
    # With --timing-pass the command re-times only those passes' tests (the new run's node ids were filtered), in
    # a process that has run nothing else: a re-timed pass 2 is not a long process's pass 2.
    rerun = perf.load_run(made[0], passes)
    print(f"re-timed: {made[0]}")
    differs = perf.incomparable(new.machine, rerun.machine)
    if differs:  # with --across the old side ran other versions; the re-timing must repeat the new side
        raise perf.PerfError(f"{made[0]}: the re-timing is not comparable with the new run {new.path} "
                             f"({'; '.join(differs)}); run compare from the new run's environment")
    kept = []
    for first, again in perf.confirm(old, rerun, flagged, **rule, across=across):
        confirmed = again.verdict == "regression"
        kept += [first] if confirmed else []
        print(f"  {first.benchmark}: ratio {first.ratio:.3f} then {again.ratio:.3f} (p {again.p_value:.4f}) "
              f"{'confirmed' if confirmed else 'not confirmed'}")
    return kept


def _cmd_perf_history(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import perf

    paths = perf.saved_runs(Path(args.storage))
    if not paths:
        raise perf.PerfError(f"{args.storage}: no saved runs")
    runs = [perf.load_run(p) for p in paths]
    rows = perf.history_rows(runs, perf.spec_min_effects(), metric=args.metric)
    for name, series in sorted(rows.items()):
        print(name)
        for r in series:
            unit = "x control" if r["metric"].endswith("-rel") else "s"  # a round divided by its control
            print(f"  {r['run']:<40} {r['metric']:>4} median {r['median']:9.4f} {unit}  cv {r['cv']:6.1%}  "
                  f"(wall median {r['wall_median']:9.4f} s)  rounds {r['rounds']:>3}  "
                  f"{r['commit']:<10} {r['step']}")
    if args.plots:
        for path in perf.plot_history(rows, Path(args.plots)):
            print(f"plot: {path}")
    return 0


METRIC_HELP = ("samples judged: auto (default: a CPU benchmark's CPU seconds per round divided by its control's, "
               "'cpu-rel', where saved; wall seconds for GPU benchmarks and older runs), cpu-rel, wall-rel, cpu, wall")


def build_parser() -> argparse.ArgumentParser:
    from . import perf  # light: scipy and matplotlib load inside its functions

    p = argparse.ArgumentParser(prog="regsuite", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered experiments").set_defaults(func=_cmd_list)
    r = sub.add_parser("run", help="train one experiment and print its history beside the documented one")
    r.add_argument("experiment", help="experiment id, e.g. keras_regularization/l1")
    r.add_argument("--seed", type=int, default=None, help="seed (default: the spec's first)")
    r.add_argument("--data-dir", default=None, help=f"dataset mirror (default: ${datasets.ENV_VAR})")
    r.set_defaults(func=_cmd_run)
    pl = sub.add_parser("plain", help="train every experiment (or the ones named) once, the plain way the documents "
                                     "do: serially, one step per compiled call; prints the wall times")
    pl.add_argument("experiments", nargs="*", help="experiment ids (default: every registered one)")
    pl.add_argument("--data-dir", default=None, help=f"dataset mirror (default: ${datasets.ENV_VAR})")
    pl.add_argument("--results", default=None, help="also write the runs here (the format of --regsuite-results)")
    pl.set_defaults(func=_cmd_plain)
    d = sub.add_parser("data", help="where each dataset is found, and its fingerprint")
    d.add_argument("--data-dir", default=None, help=f"dataset mirror (default: ${datasets.ENV_VAR})")
    d.add_argument("--download", action="store_true", help="let the libraries' downloaders try")
    d.set_defaults(func=_cmd_data)
    s = sub.add_parser("restamp", help="update the spec digest of baselines whose spec is unchanged (numbers untouched)")
    s.add_argument("experiments", nargs="+", help="experiment ids")
    s.add_argument("--baselines", default="baselines", help="baseline folder (default: ./baselines)")
    s.set_defaults(func=_cmd_restamp)
    c = sub.add_parser("scan", help="score candidate hidden settings against a document's printed first epoch")
    c.add_argument("experiments", nargs="+", help="experiment ids (keras_notes/l2 keras_notes/dropout ...)")
    c.add_argument("--seeds", type=int, nargs="+", default=[42, 0], help="seeds per candidate (default: 42 0)")
    c.add_argument("--data-dir", default=None, help=f"dataset mirror (default: ${datasets.ENV_VAR})")
    c.add_argument("--out", default="baselines/keras_notes/settings_scan.json", help="where the evidence is written")
    c.add_argument("--top", type=int, default=5, help="rows printed per experiment")
    c.set_defaults(func=_cmd_scan)
    perf_p = sub.add_parser("perf", help="compare saved benchmark runs, or show their history")
    perf_sub = perf_p.add_subparsers(dest="perf_command", required=True)
    pc = perf_sub.add_parser("compare", help="newest saved run vs the previous one (or two named runs); exit 0 no "
                                             "regression, 1 regression, 2 usage/infrastructure error, 3 not comparable")
    pc.add_argument("runs", nargs="*", help="two saved runs (path, file stem or counter), old then new; a side may "
                                            "be several comma-separated runs, pooled (e.g. 0001,0003 0002,0004); "
                                            "default: the last two")
    pc.add_argument("--storage", default=".benchmarks", help="pytest-benchmark storage folder (default .benchmarks)")
    pc.add_argument("--min-effect", type=float, default=0.10,
                    help="smallest slowdown reported, as a fraction of the old median (default 0.10)")
    pc.add_argument("--metric", choices=perf.METRICS, default="auto", help=METRIC_HELP)
    pc.add_argument("--noise-runs", default="none", metavar="none|earlier|DIR",
                    help="runs of unchanged code whose run-to-run spread raises each benchmark's min effect to "
                         "4 x its CV: 'none' (default), 'earlier' (the comparable runs saved before the old one, "
                         "once there are 3), or another storage folder; fewer false alarms, less sensitivity")
    pc.add_argument("--reference-runs", type=int, default=1, metavar="N",
                    help="judge the new run against the old one pooled with the N-1 comparable runs saved before "
                         "it (default 1: the old run alone); one unlucky old run no longer decides")
    pc.add_argument("--across", default=None, metavar="KEY[,KEY]",
                    help="let these machine/library facts differ (e.g. tensorflow,numpy): measure what an upgrade "
                         "costs on one machine instead of reporting the runs as not comparable; judged on CPU "
                         "seconds unless --metric says otherwise; keys: " + ", ".join(perf.COMPARABLE_KEYS))
    pc.add_argument("--timing-pass", default=None, metavar="N[,N]",
                    help="judge only these timing passes' rounds (default: every pass, pooled); e.g. 1, a "
                         "process's first model of each experiment, where a long process slows later ones")
    pc.add_argument("--confirm", action="store_true",
                    help="time each flagged benchmark again in a fresh pytest process (run from the project's "
                         "folder; saved under STORAGE/confirmations) and report only the regressions that "
                         "re-timing shows too")
    pc.set_defaults(func=_cmd_perf_compare)
    ph = perf_sub.add_parser("history", help="a table of every saved run per benchmark, step changes marked")
    ph.add_argument("--storage", default=".benchmarks", help="pytest-benchmark storage folder (default .benchmarks)")
    ph.add_argument("--plots", default=None, metavar="DIR", help="also write one PNG trend plot per benchmark here")
    ph.add_argument("--metric", choices=perf.METRICS, default="auto", help=METRIC_HELP)
    ph.set_defaults(func=_cmd_perf_history)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RegsuiteError as exc:
        print(f"regsuite: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
