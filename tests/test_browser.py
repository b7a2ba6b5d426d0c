"""The course in a real browser: JupyterLab, widgets and nbgrader's extension in headless Chromium.

Skips with the reason when Chromium or Playwright is missing. Screenshots land in
$COURSE_ARTIFACTS (default: the test's temporary folder) as <notebook>-<widget>-before/after.png.
"""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import nbformat
import pytest

import browser

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(browser.chromium_missing_reason() is not None,
                                                   reason=browser.chromium_missing_reason() or "")]


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
        "els => els.map(e => e.getAttribute('src'))")


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
    from autograder.release import nbgrader, write_course_config
    from nbfactory import toy_assignment

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
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'dgm'\n")
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
            browser.open_notebook(page, url, relpath)
            page.locator(".jp-NotebookPanel:visible .jp-Toolbar-item:has-text('Validate') button, "
                         ".jp-NotebookPanel:visible button:has-text('Validate')").first.click()
            dialog = page.locator(".jp-Dialog")
            dialog.wait_for(timeout=120_000)
            page.wait_for_function("() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')")
            text = dialog.inner_text()
            page.screenshot(path=str(art / f"nbgrader-validate-{Path(relpath).parent.name}.png"))
            page.keyboard.press("Escape")
            return text

        blank_report = validate("00_toy/00_toy.ipynb")
        assert "NotImplementedError" in blank_report and "Success!" not in blank_report
        solved = nbformat.read(fetched, as_version=4)
        solved.cells[2].source = "def add(a, b):\n    return a + b"
        solved.cells[4].source = "def square(x):\n    return x * x"
        (student / "solved").mkdir()
        nbformat.write(solved, student / "solved" / "00_toy.ipynb")
        assert "Success! Your notebook passes all the tests." in validate("solved/00_toy.ipynb")


def _solved_release(name: str, folder: Path) -> Path:
    """The student release of ``name`` with every answer cell filled in from the solution, next to
    the checkpoints the solution run trained (so nothing trains in the browser)."""
    from autograder.fixtures import solved_release
    from conftest import solution_checkpoints

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
    from autograder import assignments

    return assignments()


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
