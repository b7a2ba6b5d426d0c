"""From recorded runs to thresholds, registry verdicts and problems (pure: tests/test_calibration.py reruns it
on the committed JSON), and the markdown table rendered from the result.

A mistake *affects* a threshold when its fixture is graded on what the mistake changes: it drops (retrains)
a checkpoint the threshold reads, or replaces a student function the measurement calls. Its runs then
decide the cell's grade, and the registry (autograder/mistakes/) must say so: ``lost`` when every run fails
the cell, ``undecided`` when its runs disagree, neither when every run passes. A mistake that does not
affect a threshold is graded on the solution's checkpoints (which pass); it is trained anyway, to check
that claim: if its own trained checkpoints fail, the registry is wrong (the fixture grades something no
student would hand in) and must drop those checkpoints.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

from . import Spec, Threshold
from .stats import P_TARGET, bound, catchable, false_reject, fit, place

MIN_CORRECT, MIN_THREADS, MIN_MISTAKE = 10, 2, 2


def value(run: dict, t: Threshold) -> float:
    v = run["values"].get(t.statistic)
    return math.nan if v is None else float(v)


def affects(mistake, t: Threshold) -> bool:
    """Whether the fixture of ``mistake`` is graded on something the mistake changed, for threshold ``t``."""
    dropped = any(fnmatch.fnmatch(stem, pattern) for stem in t.checkpoints for pattern in mistake.drop)
    return dropped or bool(set(t.uses) & set(mistake.replace))


def distinct(runs: list[dict]) -> list[dict]:
    """``runs`` without repeats: a run whose values all equal an earlier run's (a seed whose thread count did not
    change a single float) is the same sample, and counting it twice would understate the spread."""
    seen, out = set(), []
    for r in sorted(runs, key=lambda r: (r["seed"], r["threads"])):
        key = tuple(sorted((k, float(v)) for k, v in r["values"].items()))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def summarize(
    spec: Spec, runs: list[dict], cfg: Any, mistakes: dict, *, dry_run: bool = False, before: dict | None = None
) -> dict:
    """Place every threshold and check the registry against the runs.

    Args:
        runs: results of :mod:`autograder.calibration.runner` (``kind``, ``seed``, ``threads``, ``values``, ``errors``).
        cfg: the profile whose threshold fields are compared with the placed values.
        before: field -> the threshold the profile had before this calibration (judged on the same runs).
        mistakes: fixture kind -> :class:`autograder.mistakes.Mistake` (``autograder.fixtures.mistake_kinds``).

    Returns:
        ``{"thresholds": [...], "cells": [...], "problems": [...]}`` (JSON-ready).
    """
    correct = distinct([r for r in runs if r["kind"] == "solution"])
    by_kind = {k: [r for r in runs if r["kind"] == k] for k in mistakes}
    problems: list[str] = []
    threads = sorted({r["threads"] for r in correct})
    if not dry_run:
        if len(correct) < MIN_CORRECT or len(threads) < MIN_THREADS:
            problems.append(
                f"{len(correct)} distinct correct runs over thread counts {threads}: need >= {MIN_CORRECT} "
                f"over >= {MIN_THREADS} thread counts"
            )
        for k, rs in by_kind.items():
            if len(rs) < MIN_MISTAKE:
                problems.append(f"{k}: {len(rs)} runs, need >= {MIN_MISTAKE}")
    for r in correct:
        for e in r["errors"]:
            problems.append(
                f"correct run seed {r['seed']} threads {r['threads']}: {e['cell']} raised "
                f"{e['ename']}: {e['evalue'][:160]}"
            )
    rows, placed = [], {}
    for t in spec.thresholds:
        cv = [value(r, t) for r in correct]
        n, mean, sd = fit(cv)
        meant = [k for k, m in mistakes.items() if t.cell in m.lost and affects(m, t)]
        catch = [k for k in meant if catchable([value(r, t) for r in by_kind[k]], cv, t.upper)]
        if t.calibrated:
            p = place(cv, [value(r, t) for k in catch for r in by_kind[k]], t.upper)
        else:
            p = {"threshold": t.fixed, "bound": bound(cv, t.upper), "best_mistake": None, "rule": "fixed"}
        thr = p["threshold"]
        placed[t.statistic] = thr
        fr = false_reject(cv, thr, t.upper)
        worst = (max(cv) if t.upper else min(cv)) if cv else math.nan
        per_mistake = {}
        for k, m in mistakes.items():
            vs = [value(r, t) for r in by_kind[k]]
            per_mistake[k] = {
                "values": vs,
                "best": (min(vs) if t.upper else max(vs)) if vs else None,
                "affected": affects(m, t),
                "meant": k in meant,
                "caught": bool(vs) and not any(t.passes(v, thr) for v in vs),
            }
        profile_value = getattr(cfg, t.field) if t.field else None
        old = (before or {}).get(t.field, thr) if t.field else thr
        old_caught = [
            k
            for k, m in mistakes.items()
            if affects(m, t) and by_kind[k] and not any(t.passes(value(r, t), old) for r in by_kind[k])
        ]
        rows.append(
            {
                "statistic": t.statistic,
                "label": t.label,
                "field": t.field,
                "cell": t.cell,
                "op": t.op,
                "calibrated": t.calibrated,
                "threshold": _num(thr),
                "profile": profile_value,
                "rule": p["rule"],
                "bound": _num(p["bound"]),
                "best_mistake_caught": p["best_mistake"],
                "correct": {
                    "values": cv,
                    "n": n,
                    "mean": _num(mean),
                    "sd": _num(sd),
                    "worst": _num(worst),
                    "threads": threads,
                },
                "false_reject": {k: _num(v) for k, v in fr.items()},
                "before": {
                    "threshold": old,
                    "false_reject": {k: _num(v) for k, v in false_reject(cv, old, t.upper).items()},
                    "correct_failing": sum(not t.passes(v, old) for v in cv),
                    "caught": old_caught,
                },
                "mistakes": per_mistake,
            }
        )
        if cv and not dry_run:
            if not fr["predictive"] <= P_TARGET:
                problems.append(
                    f"{t.name}: estimated false-reject probability {fr['predictive']:.2g} (predictive) "
                    f"> {P_TARGET:g} at threshold {thr:g}: change the measurement, not the tolerance"
                )
            if any(not t.passes(v, thr) for v in cv):
                problems.append(f"{t.name}: a correct run fails ({worst:g} vs {thr:g})")
            if t.field and profile_value != thr:
                problems.append(f"{t.field}: the profile has {profile_value!r}, the calibration places {thr!r}")
        for k in meant:
            if k not in catch and not dry_run:
                problems.append(
                    f"{k} loses {t.cell} but not every run of it lies beyond the 0.1% bound of "
                    f"{t.name} ({p['bound']:.4g}): runs {per_mistake[k]['values']}"
                )
    cells = []
    for cell in spec.cells:
        ts = [t for t in spec.thresholds if t.cell == cell]
        for k, m in mistakes.items():
            verdicts = [
                "pass" if all(t.passes(value(r, t), placed[t.statistic]) for t in ts) else "fail" for r in by_kind[k]
            ]
            affected = any(affects(m, t) for t in ts)
            registry = "lost" if cell in m.lost else "undecided" if cell in m.undecided else "kept"
            note = ""
            if affected:
                graded = "its own runs"
                if registry == "undecided":
                    agrees = True
                    if len(set(verdicts)) == 1:
                        note = f"every run is a {verdicts[0]}: it could be decided"
                else:
                    agrees = all(v == ("fail" if registry == "lost" else "pass") for v in verdicts)
            else:
                graded = "the solution's checkpoints"
                agrees = all(v == "pass" for v in verdicts)
                if registry == "lost":
                    note = "lost for another reason than this threshold (not checked here)"
            if not agrees and not dry_run:
                want = (
                    ("lost" if set(verdicts) == {"fail"} else "undecided")
                    if affected
                    else f"drop {sorted(c for t in ts for c in t.checkpoints)} and list {cell} as lost or undecided"
                )
                problems.append(
                    f"{k}: the registry says {cell} is {registry} (graded on {graded}), its runs "
                    f"give {verdicts}: make it {want}"
                )
            cells.append(
                {
                    "cell": cell,
                    "kind": k,
                    "registry": registry,
                    "affected": affected,
                    "graded_on": graded,
                    "verdicts": verdicts,
                    "agrees": agrees,
                    "note": note,
                }
            )
    return {"thresholds": rows, "cells": cells, "problems": problems}


# ----------------------------------------------------------------------------------------------- markdown
def _f(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _p(x) -> str:
    if x is None:
        return "-"
    return "< 1e-12" if x < 1e-12 else f"{x:.2g}"


def render(spec: Spec, data: dict) -> str:
    """The markdown table of one assignment's calibration (docs/calibration/<a>.md)."""
    s = data["summary"]
    runs = data["runs"]
    lines = [
        f"# Calibration of {spec.assignment} (fast profile)",
        "",
        f"Written by `{data['command']}` ({data['written']}); every number below is in "
        f"`{spec.assignment}.json`, from which this page is rendered.",
        "",
        spec.about,
        "",
        "Each run executes the notebook a fixture of that kind hands in (the solved release, or the release "
        "with a registered mistake's answer cells from `autograder/mistakes/`) top to bottom with nbclient in "
        "a scratch folder, profile seed overridden through `COURSE_PROFILE_OVERRIDES` and "
        "`OMP_NUM_THREADS` set, then measures every threshold on the checkpoints that run wrote. "
        "False-reject probability of a correct run: `normal` is the plug-in normal fit of the correct runs; "
        "`predictive` accounts for estimating mean and sd from n runs (Student t, n - 1 degrees of freedom, "
        "scale sd sqrt(1 + 1/n)) and is the one the thresholds are placed with: at the one-sided 0.1% "
        "prediction bound of the correct runs, rounded away from them to 3 significant digits "
        "(`autograder/calibration/stats.py`): the tightest threshold with that false-reject probability. "
        "Run i uses seed i at thread count threads[i mod 2]; a run "
        "whose every value repeats another's (a thread count that changed no float) counts once.",
        "",
    ]
    if data.get("dry_run"):
        lines += ["**Dry run** (tiny sizes): the numbers say nothing about the real profile.", ""]
    lines += [
        "| cell | threshold | before (false reject predictive; correct runs failing) | after | "
        "distinct correct runs (threads) | mean +- sd | worst correct | 0.1% bound | false reject normal / predictive "
        "| best mistake run caught | caught by it | not caught by it |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in s["thresholds"]:
        name = f"`{t['field']}`" if t["field"] else t["statistic"]
        caught = [k for k, m in t["mistakes"].items() if m["affected"] and m["caught"]]
        missed = [k for k, m in t["mistakes"].items() if m["affected"] and not m["caught"]]
        c = t["correct"]
        lines.append(
            f"| {t['cell']} | {t['label']}: {name} {t['op']} | {_f(t['before']['threshold'])} "
            f"({_p(t['before']['false_reject']['predictive'])}; {t['before']['correct_failing']}/{c['n']}) "
            f"| **{_f(t['threshold'])}** | {c['n']} ({', '.join(map(str, c['threads']))}) | {_f(c['mean'])} +- {_f(c['sd'], 3)} "
            f"| {_f(c['worst'])} | {_f(t['bound'])} | {_p(t['false_reject']['normal'])} / "
            f"{_p(t['false_reject']['predictive'])} | {_f(t['best_mistake_caught'])} | {', '.join(caught) or '-'} "
            f"| {', '.join(missed) or '-'} |"
        )
    lines += [
        "",
        '"caught by it" / "not caught by it": the mistakes whose fixture is graded on their own runs for '
        "this threshold (they retrain its checkpoint or change a function its measurement calls), by whether "
        "every run fails it. Mistakes listed under neither are graded on the solution's checkpoints here; "
        "they are caught by the unit-test cells (autograder/mistakes/ lists every cell each one loses).",
        "",
        "## Registry check",
        "",
        "Per threshold cell and registered mistake: what the registry says the fixture gets, and what the "
        "mistake's own runs get. Graded on the solution's checkpoints: its trained runs must pass too, or "
        "the registry is wrong.",
        "",
        "| cell | mistake | graded on | registry | its runs | agrees | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in s["cells"]:
        lines.append(
            f"| {c['cell']} | {c['kind']} | {c['graded_on']} | {c['registry']} | {', '.join(c['verdicts']) or '-'} "
            f"| {'yes' if c['agrees'] else '**no**'} | {c['note']} |"
        )
    lines += [
        "",
        "## What catches each mistake",
        "",
        "| mistake | its fixture retrains | threshold cells its own runs fail | cells the registry says it loses |",
        "|---|---|---|---|",
    ]
    for kind in dict.fromkeys(c["kind"] for c in s["cells"]):
        rows = [c for c in s["cells"] if c["kind"] == kind]
        failed = [c["cell"] for c in rows if c["verdicts"] and all(v == "fail" for v in c["verdicts"])]
        mixed = [c["cell"] for c in rows if "fail" in c["verdicts"] and "pass" in c["verdicts"]]
        drop = data.get("registry", {}).get(kind, {}).get("drop", [])
        lost = data.get("registry", {}).get(kind, {}).get("lost", [])
        retrains = ", ".join(drop) or "no: the solution's checkpoints"
        lines.append(
            f"| {kind} | {retrains} | "
            f"{', '.join(failed) or '-'}{' (some runs: ' + ', '.join(mixed) + ')' if mixed else ''} | "
            f"{', '.join(lost)} |"
        )
    stats = [t.statistic for t in spec.thresholds]
    lines += [
        "",
        "## Runs",
        "",
        "| kind | seed | threads | notebook s | measure s | " + " | ".join(stats) + " | errors |",
        "|---|---|---|---|---|" + "---|" * len(stats) + "---|",
    ]
    for r in sorted(runs, key=lambda r: (r["kind"] != "solution", r["kind"], r["seed"], r["threads"])):
        errs = "; ".join(f"{e['cell']}: {e['ename']}" for e in r["errors"]) or ""
        lines.append(
            f"| {r['kind']} | {r['seed']} | {r['threads']} | {r['notebook_s']:.0f} | {r['measure_s']:.0f} | "
            + " | ".join(_f(r["values"].get(k), 5) for k in stats)
            + f" | {errs} |"
        )
    total = sum(r["notebook_s"] + r["measure_s"] for r in runs)
    lines += [
        "",
        f"{len(runs)} runs, {total / 60:.0f} min of run time in all (notebook + measurement; "
        f"{data.get('machine', '')}).",
        "",
    ]
    if s["problems"]:
        lines += ["## Problems", ""] + [f"- {p}" for p in s["problems"]] + [""]
    if spec.notes:
        lines += ["## Notes", "", spec.notes, ""]
    return "\n".join(lines)


def overview(folder) -> str:
    """docs/calibration/README.md: every assignment's thresholds before and after, from the JSON files in ``folder``."""
    import json
    from pathlib import Path

    lines = [
        "# Fast-profile thresholds: calibration overview",
        "",
        "Rendered from the `<assignment>.json` files next to this page by `python -m autograder calibrate` "
        "(each assignment's table has the runs, the registry check and what catches each mistake). "
        "False reject: estimated probability that a correct run fails the threshold (Student-t predictive "
        'from the distinct correct runs; the plug-in normal one is in the tables). "before" is the '
        "threshold the profile had when the assignment was first calibrated, judged on the same runs.",
        "",
        "| assignment | cell | threshold | before | false reject before | after | false reject after | "
        "correct runs: n, mean +- sd, worst | best mistake run caught | mistakes caught by it |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(Path(folder).glob("*.json")):
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "summary" not in data or data.get("dry_run"):
            continue
        for t in data["summary"]["thresholds"]:
            c = t["correct"]
            caught = [k for k, m in t["mistakes"].items() if m["affected"] and m["caught"]]
            name = f"`{t['field']}` {t['op']}" if t["field"] else f"{t['statistic']} {t['op']}"
            lines.append(
                f"| {data['assignment']} | {t['cell']} | {name} | {_f(t['before']['threshold'])} | "
                f"{_p(t['before']['false_reject']['predictive'])} | **{_f(t['threshold'])}** | "
                f"{_p(t['false_reject']['predictive'])} | {c['n']}, {_f(c['mean'])} +- {_f(c['sd'], 3)}, "
                f"{_f(c['worst'])} | {_f(t['best_mistake_caught'])} | {', '.join(caught) or '-'} |"
            )
    return "\n".join(lines) + "\n"
