"""The course in a real browser: JupyterLab, widgets and nbgrader's extension in headless Chromium.

Skips with the reason when Chromium or Playwright is missing. Screenshots land in
$COURSE_ARTIFACTS (default: the test's temporary folder) as <notebook>-<widget>-before/after.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import browser
import nbformat
import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(browser.chromium_missing_reason() is not None, reason=browser.chromium_missing_reason() or ""),
]


REPO = Path(__file__).resolve().parent.parent


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("COURSE_ARTIFACTS", tmp_path / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


WIDGET_NB = [
    "import matplotlib.pyplot as plt\nimport numpy as np\nimport ipywidgets as w\nfrom course_lib.widgets import interactive_or_static",
    "fig, ax = plt.subplots(figsize=(3, 2)); ax.plot([0, 1], [0, 1]); plt.show()",
    "def frame(alpha=0.0):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.imshow(np.full((4, 4), alpha), vmin=0, vmax=1)\n"
    "    ax.set_title(f'alpha={alpha:.2f}')\n    plt.close(fig)\n    return fig\n"
    "interactive_or_static(frame, alpha=w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description='alpha'))",
]


def _write(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def widget_images(page) -> list[str]:
    """The image data shown inside each widget's output area."""
    return page.locator(".jp-OutputArea-output .widget-output img, .jupyter-widgets-output-area img").evaluate_all(
        "els => els.map(e => e.getAttribute('src'))"
    )


def set_slider(page, index: int, value: float) -> None:
    """Type a value into the slider's readout (the text box beside it) and press Enter."""
    readout = page.locator(".widget-slider .widget-readout").nth(index)
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def test_figures_render_and_a_slider_redraws_its_image(tmp_path):
    _write(tmp_path / "w" / "widgets.ipynb", WIDGET_NB)
    art = _artifacts(tmp_path)
    with browser.lab_server(tmp_path) as url, browser.browser_page() as page:
        browser.open_notebook(page, url, "w/widgets.ipynb")
        browser.run_all(page, timeout_s=300)
        assert browser.errors(page) == []
        assert page.locator(".jp-OutputArea-output img").count() >= 2  # the static plot and the widget's
        page.wait_for_selector(".widget-slider")
        before = widget_images(page)
        page.screenshot(path=str(art / "toy-alpha-before.png"))
        set_slider(page, 0, 0.8)
        page.wait_for_function("n => document.querySelectorAll('.widget-slider').length > 0")
        page.wait_for_timeout(3000)
        after = widget_images(page)
        page.screenshot(path=str(art / "toy-alpha-after.png"))
    assert before and after and before != after


def test_nbgrader_assignment_list_fetch_and_validate(tmp_path):
    """A released assignment shows in nbgrader's Assignment List, Fetch downloads it, and the
    notebook toolbar's Validate button runs the tests: failing on the blank, passing when solved."""
    from nbfactory import toy_assignment

    from autograder.release import nbgrader, write_course_config

    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    course = tmp_path / "instructor"
    write_course_config(course)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"c.Exchange.root = {str(exchange)!r}\n")
    toy_assignment(course / "source")
    for step in (["generate_assignment", "00_toy", "--force"], ["release_assignment", "00_toy", "--force"]):
        proc = nbgrader(step, cwd=course)
        assert proc.returncode == 0, proc.stderr
    student = tmp_path / "student"
    student.mkdir()
    (student / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'dgm'\n"
    )
    art = _artifacts(tmp_path)
    with browser.lab_server(student) as url, browser.browser_page() as page:
        page.goto(f"{url}/lab")
        page.wait_for_selector(".jp-StatusBar-TextItem", timeout=120_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        page.locator(".lm-Menu-item[data-command='nbgrader:open-assignment-list']").click()
        released = page.locator("#released_assignments_list")
        released.get_by_text("00_toy").first.wait_for()
        page.screenshot(path=str(art / "nbgrader-assignment-list.png"))
        released.get_by_role("button", name="Fetch").click()
        page.locator("#fetched_assignments_list").get_by_text("00_toy").first.wait_for()
        fetched = student / "00_toy" / "00_toy.ipynb"
        assert fetched.is_file()

        def validate(relpath: str) -> str:
            return _validate(page, url, relpath, art / f"nbgrader-validate-{Path(relpath).parent.name}.png")

        blank_report = validate("00_toy/00_toy.ipynb")
        assert "NotImplementedError" in blank_report and "Success!" not in blank_report
        solved = nbformat.read(fetched, as_version=4)
        solved.cells[2].source = "def add(a, b):\n    return a + b"
        solved.cells[4].source = "def square(x):\n    return x * x"
        (student / "solved").mkdir()
        nbformat.write(solved, student / "solved" / "00_toy.ipynb")
        assert "Success! Your notebook passes all the tests." in validate("solved/00_toy.ipynb")


def _validate(page, url: str, relpath: str, screenshot: Path) -> str:
    """Open ``relpath``, press nbgrader's Validate button, return the dialog's text."""
    browser.open_notebook(page, url, relpath)
    page.locator(
        ".jp-NotebookPanel:visible .jp-Toolbar-item:has-text('Validate') button, "
        ".jp-NotebookPanel:visible button:has-text('Validate')"
    ).first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=120_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')")
    text = dialog.inner_text()
    page.screenshot(path=str(screenshot))
    page.keyboard.press("Escape")
    return text


def _solve_toy(nb) -> None:
    nb.cells[2].source = "def add(a, b):\n    return a + b"
    nb.cells[4].source = "def square(x):\n    return x * x"


def _server_problems(root: Path) -> list[str]:
    """Lines of JupyterLab's log that a student or TA should never see on start."""
    bad = ("No nbgrader_config.py", "Traceback", "[E ", "Error fetching")
    return [line for line in (root / "lab.log").read_text().splitlines() if any(b in line for b in bad)]


def _menus(page) -> list[str]:
    page.wait_for_selector(".lm-MenuBar-itemLabel:has-text('File')")
    return [t.strip() for t in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


def test_student_view_has_no_instructor_tools_and_validate_works(tmp_path):
    """What `make lab` and the bundle's `python -m course_lib.lab` start: no Nbgrader menu, no Create
    Assignment, no formgrader or exchange lists (not in the page, not on the server), nothing failing on
    start, and nbgrader's Validate button running the visible checks."""
    from nbfactory import toy_assignment

    from autograder import release

    toy_assignment(tmp_path / "src")
    root = tmp_path / "lab"
    release.generate(out=root, solutions=tmp_path / "src")
    solved = nbformat.read(root / "00_toy" / "00_toy.ipynb", as_version=4)
    _solve_toy(solved)
    (root / "solved").mkdir()
    nbformat.write(solved, root / "solved" / "00_toy.ipynb")
    art = _artifacts(tmp_path)
    console: list[str] = []
    with browser.lab_server(root, view="student") as url, browser.browser_page() as page:
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.goto(f"{url}/lab")
        page.wait_for_selector(".jp-StatusBar-TextItem", timeout=120_000)
        menus = _menus(page)
        page.wait_for_timeout(2000)  # plugins that fail do so right after start
        page.screenshot(path=str(art / "student-view.png"))
        assert "Nbgrader" not in menus, menus
        assert page.locator("#nbgrader-create_assignemnt").count() == 0  # (nbgrader's own spelling of its id)
        assert page.get_by_text("Create Assignment").count() == 0 and page.get_by_text("Formgrader").count() == 0
        for path in ("/formgrader", "/assignments", "/courses"):
            assert page.request.get(f"{url}{path}").status == 404, path
        assert "Success! Your notebook passes all the tests." in _validate(
            page, url, "solved/00_toy.ipynb", art / "student-validate.png"
        )
    assert [c for c in console if "nbgrader" in c.lower() and c.startswith("error")] == []
    assert not any("Error fetching courses" in c for c in console)
    assert _server_problems(root) == []


def test_formgrader_manual_grade_and_comment_reach_the_exported_grades(tmp_path):
    """`make formgrader` on a graded course folder: the formgrader opens in JupyterLab, its autograde
    button refuses without touching anything, a TA enters a manual score and a comment for a written
    answer, and the exported grades carry both (with the roster's names)."""
    import csv

    from nbfactory import toy_assignment
    from nbgrader.api import Gradebook

    from autograder import lms, release
    from autograder.grade import grade

    toy_assignment(tmp_path / "solutions", written=True)
    release.generate(out=tmp_path / "notebooks", solutions=tmp_path / "solutions")
    nb = nbformat.read(tmp_path / "notebooks" / "00_toy" / "00_toy.ipynb", as_version=4)
    _solve_toy(nb)
    nb.cells[-1].source = "Because the two sums are the same number."
    (tmp_path / "subs" / "alice" / "00_toy").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "alice" / "00_toy" / "00_toy.ipynb")
    course = tmp_path / "course"
    grade(tmp_path / "subs", course, solutions=tmp_path / "solutions", log=lambda *_: None)
    (tmp_path / "roster.csv").write_text("id,first_name,last_name,email\nalice,Alice,Liddell,alice@example.org\n")
    lms.import_roster(tmp_path / "roster.csv", course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook_id = gb.find_submission_notebook("00_toy", "00_toy", "alice").id
    autograded = course / "autograded" / "alice" / "00_toy" / "00_toy.ipynb"
    art = _artifacts(tmp_path)
    with browser.lab_server(course, view="instructor") as url, browser.browser_page() as page:
        page.goto(f"{url}/lab")
        page.wait_for_selector(".jp-StatusBar-TextItem", timeout=120_000)
        assert "Nbgrader" in _menus(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        page.locator(".lm-Menu-item[data-command='nbgrader:open-formgrader']").click()
        frame = page.frame_locator("iframe").first
        frame.get_by_text("00_toy").first.wait_for(timeout=60_000)
        page.screenshot(path=str(art / "formgrader-manage-assignments.png"))
        # the autograde button's request: refused, and the autograded notebook is still there
        answer = page.request.post(f"{url}/formgrader/api/submission/00_toy/alice/autograde").json()
        assert answer["success"] is False and "python -m autograder grade" in answer["error"], answer
        assert autograded.is_file()
        page.goto(f"{url}/formgrader/submissions/{notebook_id}/", wait_until="domcontentloaded")
        score = page.locator("input.score#explain_add")
        score.wait_for(timeout=60_000)
        assert "Because the two sums are the same number." in page.locator("body").inner_text()
        score.click()
        score.fill("1.5")
        comment = page.locator("textarea#explain_add-comment")
        comment.click()  # leaving the score field saves it
        comment.fill("Right: and why is that so for numbers?")
        score.click()  # leaving the comment saves it
        page.wait_for_timeout(1000)
        page.screenshot(path=str(art / "formgrader-manual-grade.png"))
        for _ in range(40):
            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
                sub = gb.find_submission_notebook("00_toy", "00_toy", "alice")
                g = next(g for g in sub.grades if g.name == "explain_add")
                c = next(c for c in sub.comments if c.name == "explain_add")
                saved = (g.manual_score, c.manual_comment, g.needs_manual_grade)
            if saved[:2] == (1.5, "Right: and why is that so for numbers?"):
                break
            page.wait_for_timeout(500)
        assert saved == (1.5, "Right: and why is that so for numbers?", False)
    assert _server_problems(course) == []
    out = lms.export(course)
    row = next(csv.DictReader(out["grades.csv"].open()))
    assert (row["student_id"], row["first_name"], row["last_name"]) == ("alice", "Alice", "Liddell")
    assert float(row["score"]) == 4.5 and float(row["max_score"]) == 5.0
    cell = next(r for r in csv.DictReader(out["grades_by_cell.csv"].open()) if r["cell"] == "explain_add")
    assert (cell["manual_score"], cell["comment"]) == ("1.5", "Right: and why is that so for numbers?")


def _solved_release(name: str, folder: Path) -> Path:
    """The student release of ``name`` with every answer cell filled in from the solution, next to
    the checkpoints the solution run trained (so nothing trains in the browser)."""
    from conftest import solution_checkpoints

    from autograder.fixtures import solved_release

    nb = solved_release(name)
    target = folder / name / f"{name}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)
    shutil.copytree(solution_checkpoints(name), target.parent / "checkpoints")
    return target


def _move_slider(page, index: int) -> None:
    """Move slider ``index`` to the other end of its range with the keyboard (End, or Home when it
    already sits at the end): works for float, int and selection sliders alike."""
    handle = page.locator(".widget-slider .noUi-handle").nth(index)
    at_end = float(handle.get_attribute("aria-valuenow")) >= float(handle.get_attribute("aria-valuemax"))
    handle.focus()
    page.keyboard.press("Home" if at_end else "End")


def _assignments():
    from autograder import notebook_names

    return notebook_names()


@pytest.mark.slow
@pytest.mark.parametrize("name", _assignments())
def test_released_assignment_runs_in_lab_and_its_sliders_redraw(name, tmp_path):
    _solved_release(name, tmp_path)
    art = _artifacts(tmp_path)
    with browser.lab_server(tmp_path) as url, browser.browser_page() as page:
        browser.open_notebook(page, url, f"{name}/{name}.ipynb")
        browser.run_all(page, timeout_s=900)
        assert browser.errors(page) == [], f"{name}: cells raised in the browser"
        assert page.locator(".jp-OutputArea-output img").count() >= 1, f"{name}: no figure rendered"
        sliders = page.locator(".widget-slider").count()
        assert sliders >= 1, f"{name}: no slider widget rendered"
        for i in range(sliders):
            page.locator(".widget-slider").nth(i).scroll_into_view_if_needed()
            before = widget_images(page)
            page.screenshot(path=str(art / f"{name}-slider{i}-before.png"))
            _move_slider(page, i)
            for _ in range(60):  # the redraw is a kernel round trip
                page.wait_for_timeout(500)
                if widget_images(page) != before:
                    break
            page.screenshot(path=str(art / f"{name}-slider{i}-after.png"))
            assert widget_images(page) != before, f"{name}: moving slider {i} did not change its image"
