"""The class summary after grading: per-test pass rates, a score histogram and the slowest submissions."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .grade import Result


def pass_rates(results: list[Result]) -> dict[tuple[str, str], tuple[int, int]]:
    """(assignment, autograded cell) -> (submissions with full points, submissions graded). Written answers are
    left out: right after autograding they wait for a TA (0 points), which is no pass rate."""
    rates: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        for cell, (score, max_score) in r.auto_cells.items():
            entry = rates[(r.assignment, cell)]
            entry[0] += int(max_score > 0 and score >= max_score)
            entry[1] += 1
    return {key: (full, total) for key, (full, total) in sorted(rates.items())}


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no HTML, no pipes, no line breaks."""
    import html

    return html.escape(str(text)).replace("|", "/").replace("\n", " ").replace("`", "'")


def write_summary(results: list[Result], folder: Path, *, slowest: int = 5) -> Path:
    """Write summary.md and score_histogram.png into ``folder``; return the Markdown file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    by_assignment: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_assignment[r.assignment].append(100.0 * r.score / r.max_score if r.max_score else 0.0)
    ax.hist(
        list(by_assignment.values()),
        bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001],
        label=list(by_assignment),
        stacked=True,
    )
    ax.set_xlabel("score (% of the assignment's points)")
    ax.set_ylabel("submissions")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(folder / "score_histogram.png", dpi=100)
    plt.close(fig)

    lines = [
        "# Grading summary",
        "",
        f"{len(results)} submissions.",
        "",
        "![score histogram](score_histogram.png)",
        "",
        "## Pass rate per graded cell",
        "",
        "| assignment | cell | full points | rate |",
        "|---|---|---|---|",
    ]
    for (assignment, cell), (full, total) in pass_rates(results).items():
        lines.append(f"| {assignment} | {cell} | {full}/{total} | {full / total:.0%} |")
    lines += [
        "",
        f"## Slowest {slowest} submissions",
        "",
        "| student | assignment | seconds | note |",
        "|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: -r.seconds)[:slowest]:
        lines.append(f"| {r.student} | {r.assignment} | {r.seconds:.0f} | {r.error[:80]} |")
    failures = [(r, cell, why) for r in results for cell, why in sorted(r.reasons.items())]
    if failures:
        lines += ["", "## Why cells failed", "", "| student | assignment | cell | error |", "|---|---|---|---|"]
        lines += [f"| {_cell(r.student)} | {r.assignment} | {cell} | {_cell(why)[:120]} |" for r, cell, why in failures]
    flagged = [(r, flag) for r in results for flag in r.tamper]
    if flagged:
        lines += [
            "",
            "## Flagged for a look (attempts to tamper with grading; no points changed)",
            "",
            "| student | assignment | where and what |",
            "|---|---|---|",
        ]
        lines += [f"| {_cell(r.student)} | {_cell(r.assignment)} | {_cell(flag)[:200]} |" for r, flag in flagged]
    noted = [(r, note) for r in results for note in r.notes]
    if noted:
        lines += [
            "",
            "## Notes shown to students (refused files, runs that stopped early)",
            "",
            "| student | assignment | note |",
            "|---|---|---|",
        ]
        lines += [f"| {_cell(r.student)} | {_cell(r.assignment)} | {_cell(note)[:200]} |" for r, note in noted]
    path = folder / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
