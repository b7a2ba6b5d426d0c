"""``python -m autograder calibrate <assignment>``: run the calibration, write docs/calibration/<a>.json and .md.

    python -m autograder calibrate 02_vae                   # 10 seeds over threads 1, 2 + 2 runs per mistake
    python -m autograder calibrate 02_vae --reuse           # keep the runs already recorded, run what is missing
    python -m autograder calibrate 02_vae --dry-run         # tiny sizes, a minute: checks that the driver works

Runs are planned as: the solution with seeds 0..N-1 and every registered mistake (autograder/mistakes/,
the grader's own registry) ``--mistake-runs`` times, run i with seed i at thread count
``threads[i % len(threads)]`` of ``--threads``. Each run is a process of its own
(:mod:`autograder.calibration.runner`); up to ``--cores`` threads' worth of runs go at once (default:
the machine's cores), so on 2 cores two 1-thread runs share the machine and a 2-thread run has it alone.
After every run the JSON (all runs so far) and the markdown are rewritten, so an interrupted calibration
resumes with ``--reuse``: a recorded run is kept when its fingerprint (the profile's settings apart from
its thresholds, the overrides, and the source of the notebook's answer and training cells, i.e. every code
cell but the first one and the graded ones) still matches.

``--checkpoints-from FOLDER`` (an earlier calibration's scratch folder of this assignment) copies into each
run's fresh folder the checkpoints of the run with the same id there (for a kind new since then: of the
solution run with the same seed and threads, less the checkpoints the kind drops), so the notebook's
``load_or_train`` loads them and only the runs without a checkpoint train. It is valid only when what
trained those checkpoints (the profile's settings for them, their training cells, course_lib's loop) is
unchanged, e.g. after a run was added at the end of a notebook; each run records what was copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .. import REPO
from . import spec_for
from .summary import overview, render, summarize

OUT = REPO / "docs" / "calibration"
WORK = REPO / "grading" / "calibration"


def settings(spec, cfg) -> dict:
    """The profile's fields that change what trains (thresholds and check-only fields left out, and fields at None:
    a field added with the default None, meaning "as before", leaves the recorded runs' fingerprints as they were)."""
    skip = set(spec.fields) | set(spec.check_fields)
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip and v is not None}


def fingerprint(spec, kind: str, overrides: dict) -> str:
    """Hash of what a run's checkpoints depend on (see the module docstring)."""
    from course_lib.profiles import get_profile, override

    from ..fixtures import fixture_notebook

    cfg = override(get_profile(spec.assignment, "fast"), **overrides)
    nb = fixture_notebook(spec.assignment, kind)
    # the answer and training cells: not the first one (imports, PROFILE, cfg: the profile is hashed as settings)
    # and not the graded ones (checks, which read checkpoints and write none)
    code = [c for c in nb.cells if c.cell_type == "code"]
    cells = [c.source for c in code[1:] if not c.metadata.get("nbgrader", {}).get("grade")]
    text = json.dumps(
        {"settings": settings(spec, cfg), "overrides": overrides, "cells": cells}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan(spec, kinds: list[str], *, seeds: int, threads: list[int], mistake_runs: int, extra: dict) -> list[dict]:
    """Every run of a calibration: ``{"kind", "seed", "threads", "overrides", "id"}``."""
    runs = []
    for kind in kinds:
        # run i: seed i at thread count threads[i % len(threads)]: every run a distinct sample, the thread
        # counts alternating (on a CPU a thread count changes the float results of some assignments and not of
        # others; a seed run twice with identical results would be one sample counted twice)
        pairs = [(i, threads[i % len(threads)]) for i in range(seeds if kind == "solution" else mistake_runs)]
        for seed, t in pairs:
            overrides = {**extra, **spec.seed_overrides(seed)}
            runs.append(
                {
                    "assignment": spec.assignment,
                    "kind": kind,
                    "seed": seed,
                    "threads": t,
                    "overrides": overrides,
                    "id": f"{kind}-s{seed}-t{t}",
                }
            )
    return runs


def child_env(run: dict) -> dict:
    from course_lib.profiles import OVERRIDES_ENV

    from .runner import NOTEBOOK_ENV

    t = str(run["threads"])
    env = dict(os.environ, **NOTEBOOK_ENV, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t)
    # idle OpenMP threads sleep instead of spinning: on a shared machine a spinning 2-thread run slows down
    # several-fold (results are the same: the wait policy changes no arithmetic)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env[OVERRIDES_ENV] = json.dumps({run["assignment"]: run["overrides"]})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("NBGRADER_EXECUTION", None)  # set for the notebook's kernel only (runner.NOTEBOOK_ENV)
    return env


def copy_checkpoints(run: dict, folder: Path, source: Path, drop: tuple[str, ...]) -> list[str]:
    """``--checkpoints-from``: copy the checkpoints (and sidecars) of ``source / run["id"]``, else those of the
    solution run with the same seed and threads less ``drop`` (the stems ``run``'s kind retrains), into
    ``folder/checkpoints``. Returns ``"<source run>/<stem>"`` of each copied checkpoint."""
    own = source / run["id"] / "checkpoints"
    solution = source / f"solution-s{run['seed']}-t{run['threads']}" / "checkpoints"
    src, skip = (own, ()) if own.is_dir() else (solution, drop)
    copied = []
    for pt in sorted(src.glob("*.pt")) if src.is_dir() else []:
        if pt.stem in skip or "*" in skip:
            continue
        (folder / "checkpoints").mkdir(exist_ok=True)
        for f in (pt, pt.with_suffix(".json")):
            if f.exists():
                shutil.copy2(f, folder / "checkpoints" / f.name)
        copied.append(f"{src.parent.name}/{pt.stem}")
    return copied


def execute(
    todo: list[dict],
    work: Path,
    *,
    cores: int,
    timeout: int,
    done,
    log=print,
    checkpoints_from: Path | None = None,
    drops: dict | None = None,
) -> None:
    """Run ``todo`` as runner processes, at most ``cores`` threads at once; ``done(result)`` after each.

    With ``checkpoints_from``, each fresh run folder first gets :func:`copy_checkpoints` (``drops``: kind ->
    the checkpoint stems it retrains)."""
    pending = sorted(todo, key=lambda r: r["threads"])  # the 1-thread runs first, so they can pair up
    active: dict[str, tuple[subprocess.Popen, dict, Path, float]] = {}
    while pending or active:
        busy = sum(r["threads"] for _, r, _, _ in active.values())
        startable = [r for r in pending if not active or busy + r["threads"] <= cores]
        if startable:
            run = startable[0]
            pending.remove(run)
            folder = work / run["id"]
            if not run.get("measure_only"):
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir(parents=True)
                if checkpoints_from is not None:
                    run["checkpoints_copied"] = copy_checkpoints(
                        run, folder, checkpoints_from, (drops or {}).get(run["kind"], ())
                    )
            (folder / "plan.json").write_text(json.dumps(dict(run, timeout=timeout), indent=1))
            with open(folder / "runner.log", "w") as logf:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "autograder.calibration.runner", str(folder / "plan.json")],
                    env=child_env(run),
                    cwd=REPO,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                )
            active[run["id"]] = (proc, run, folder, time.monotonic())
            log(f"  started {run['id']}")
            continue
        time.sleep(1.0)
        for rid, (proc, _run, folder, started) in list(active.items()):
            if proc.poll() is None:
                continue
            del active[rid]
            result_path = folder / "result.json"
            if proc.returncode != 0 or not result_path.exists():
                tail = (folder / "runner.log").read_text()[-2000:]
                raise RuntimeError(
                    f"calibration run {rid} failed (exit {proc.returncode}); log {folder}/runner.log:\n{tail}"
                )
            result = json.loads(result_path.read_text())
            log(
                f"  finished {rid} in {time.monotonic() - started:.0f} s: "
                + ", ".join(f"{k} {v:.4g}" for k, v in result["values"].items())
                + (f"; errors in {[e['cell'] for e in result['errors']]}" if result["errors"] else "")
            )
            done(result)


def main(argv: list[str] | None = None, *, log=print) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder calibrate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), log=log)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 of the solution (default 10; dry run 2)")
    parser.add_argument("--threads", default=None, help="comma-separated torch thread counts (default 1,2; dry run 1)")
    parser.add_argument(
        "--mistake-runs", type=int, default=None, help="runs per registered mistake (default 2; dry run 1)"
    )
    parser.add_argument(
        "--kinds",
        default=None,
        help="comma-separated subset of fixture kinds to run (default: solution and every registered mistake)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep the runs already recorded in the JSON")
    parser.add_argument(
        "--remeasure",
        action="store_true",
        help="with --reuse: measure the recorded runs again on "
        "the checkpoints they left under --work (after a change of the measurement), train nothing new",
    )
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, written under --work (not docs/)")
    parser.add_argument(
        "--checkpoints-from",
        type=Path,
        default=None,
        help="an earlier calibration's scratch folder "
        "of this assignment: each new run starts with the checkpoints of its namesake there (see the "
        "module docstring; valid only when what trained them is unchanged)",
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="threads' worth of runs at once")
    parser.add_argument("--cell-timeout", type=int, default=1800)
    parser.add_argument("--out", type=Path, default=None, help=f"folder of <a>.json / <a>.md (default {OUT})")
    parser.add_argument("--work", type=Path, default=WORK, help="scratch folder of the runs")


def run(args, *, log=print) -> int:
    from course_lib.profiles import get_profile

    from ..fixtures import mistake_kinds

    spec = spec_for(args.assignment)
    name = spec.assignment
    dry = args.dry_run
    seeds = args.seeds if args.seeds is not None else (2 if dry else 10)
    threads = [int(t) for t in (args.threads or ("1" if dry else "1,2")).split(",")]
    mistake_runs = args.mistake_runs if args.mistake_runs is not None else (1 if dry else 2)
    mistakes = mistake_kinds(name)
    kinds = ["solution", *mistakes] if not args.kinds else args.kinds.split(",")
    unknown = set(kinds) - {"solution", *mistakes}
    if unknown:
        raise SystemExit(
            f"unknown kinds {sorted(unknown)} for {name}; expected some of solution, {', '.join(mistakes)}"
        )
    work = args.work / ("dry-run" if dry else "") / name
    out = args.out or (args.work / "dry-run" if dry else OUT)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    extra = dict(spec.dry_run) if dry else {}
    planned = plan(spec, kinds, seeds=seeds, threads=threads, mistake_runs=mistake_runs, extra=extra)
    prints = {k: fingerprint(spec, k, extra) for k in ["solution", *mistakes]}
    for r in planned:
        r["fingerprint"] = prints[r["kind"]]
    old = json.loads(json_path.read_text()) if json_path.exists() else {}
    if not isinstance(old, dict) or "runs" not in old:  # a table of the former per-assignment scripts
        old = {}
    cfg = get_profile(name, "fast")
    before = old.get("before") or {f: getattr(cfg, f) for f in spec.fields}
    runs = []
    if args.reuse:
        runs = [r for r in old.get("runs", []) if r.get("fingerprint") == prints.get(r["kind"])]
        stale = len(old.get("runs", [])) - len(runs)
        log(f"{name}: reusing {len(runs)} recorded runs" + (f" ({stale} stale, run again)" if stale else ""))
    have = {r["id"] for r in runs}
    todo = [r for r in planned if r["id"] not in have]
    if args.remeasure:
        if not args.reuse:
            raise SystemExit("--remeasure needs --reuse (it measures the recorded runs again)")
        missing = [r["id"] for r in runs if not (work / r["id"] / f"{name}.ipynb").exists()]
        if missing:
            raise SystemExit(f"--remeasure: no run folders under {work} for {missing}; run them again without it")
        todo = [dict(r, measure_only=True) for r in runs if r["kind"] in kinds]
        runs = [r for r in runs if r["kind"] not in kinds]
    command = "python -m autograder calibrate " + " ".join(
        [name]
        + (["--dry-run"] if dry else [])
        + [f"--seeds {seeds}", f"--threads {','.join(map(str, threads))}", f"--mistake-runs {mistake_runs}"]
        + ([f"--checkpoints-from {args.checkpoints_from}"] if args.checkpoints_from else [])
    )
    started = time.monotonic()

    def write() -> dict:
        data = {
            "assignment": name,
            "profile": "fast",
            "dry_run": dry,
            "command": command,
            "written": datetime.date.today().isoformat(),
            "machine": f"{os.cpu_count()} cores, up to {args.cores} threads of runs at once",
            "method": {
                "p_target": 1e-3,
                "decides": "predictive",
                "predictive": "Student t predictive of one new correct run (n - 1 df, scale sd sqrt(1 + 1/n))",
                "normal": "plug-in normal fit of the correct runs",
            },
            "settings": settings(spec, get_profile(name, "fast", **extra)),
            "overrides": extra,
            "before": before,
            "registry": {
                k: {"drop": list(m.drop), "lost": list(m.lost), "undecided": list(m.undecided)}
                for k, m in mistakes.items()
            },
            "runs": sorted(runs, key=lambda r: r["id"]),
        }
        copied = [r for r in runs if r.get("checkpoints_copied")]
        if copied:  # --checkpoints-from, now or in a run kept by --reuse
            data["method"]["checkpoints_copied"] = (
                f"{len(copied)} of {len(runs)} runs started with checkpoints copied from an earlier calibration's run "
                "folder with the same id (a kind new since then: the solution run with the same seed and threads, "
                "less the checkpoints the kind retrains); the notebook loaded them instead of training them, and "
                "every checkpoint was measured again. Each run's `checkpoints_copied` lists what it was given."
            )
        data["summary"] = summarize(spec, data["runs"], cfg, mistakes, dry_run=dry, before=before)
        json_path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        md_path.write_text(render(spec, data))
        if not dry:
            (out / "README.md").write_text(overview(out))
        return data

    def done(result: dict) -> None:
        runs.append(result)
        write()

    log(
        f"{name}: {len(todo)} runs to do ({len(planned)} planned), up to {args.cores} threads at once; "
        f"scratch {work}, tables {out}"
    )
    if todo:
        execute(
            todo,
            work,
            cores=args.cores,
            timeout=args.cell_timeout,
            done=done,
            log=log,
            checkpoints_from=args.checkpoints_from,
            drops={k: m.drop for k, m in mistakes.items()},
        )
    data = write()
    log(f"{name}: done in {time.monotonic() - started:.0f} s; wrote {json_path} and {md_path}")
    for t in data["summary"]["thresholds"]:
        if t["field"] and t["calibrated"]:
            log(
                f"  {t['field']} = {t['threshold']!r}  (profile {t['profile']!r}; false reject "
                f"{t['false_reject']['predictive']})"
            )
    for p in data["summary"]["problems"]:
        log(f"  problem: {p}")
    return 1 if data["summary"]["problems"] and not dry else 0
