"""Drive JupyterLab in headless Chromium (Debian's package, through Playwright): the course as a
student sees it. Used by tests/test_browser.py."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (make test installs Debian's chromium package when run as root)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab_server(root: Path, *, view: str | None = None):
    """JupyterLab serving ``root`` on a free localhost port, no token; yields its base URL.

    ``view``: None for plain JupyterLab; ``"student"`` for what ``make lab`` starts
    (:mod:`course_lib.lab`); ``"instructor"`` for what ``make formgrader`` starts on a course folder
    (:mod:`autograder.formgrader`).
    """
    import tempfile

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_STATIC_WIDGETS", "NBGRADER_EXECUTION")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # render every cell (JupyterLab 4 virtualises long notebooks: off-screen cells have no DOM), and
    # no news pop-up over the screenshots
    settings = root / ".lab-settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}'
    )
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    log = open(root / "lab.log", "w")
    flags = [
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    config = Path(tempfile.mkdtemp(prefix="dgm-test-lab-"))
    if view is None:
        argv = [sys.executable, "-m", "jupyter", "lab", *flags, f"--ServerApp.root_dir={root}"]
    elif view == "student":
        from course_lib import lab

        argv, changes = lab.command(root, lab.write_config(config, "student"), flags)
        env.update(changes)
    elif view == "instructor":
        from autograder import formgrader

        argv, changes = formgrader.command(root, config, flags)
        env = formgrader.environment({**env, **changes})
    else:
        raise ValueError(f"unknown view {view!r}")
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {root / 'lab.log'}") from None
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
        log.close()
        shutil.rmtree(config, ignore_errors=True)


@contextlib.contextmanager
def browser_page():
    """A Playwright page in headless Debian Chromium (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_notebook(page, url: str, relpath: str) -> None:
    page.goto(f"{url}/lab/tree/{relpath}?reset")  # ?reset: a fresh workspace, only this notebook open
    page.wait_for_selector(".jp-NotebookPanel", state="visible")
    # the kernel is connected once the status bar reads "<kernel> | Idle"
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=120_000)


def run_all(page, timeout_s: float = 900, stall_s: float = 20) -> None:
    """Run every cell (Run menu) and wait until each code cell shows an execution count.

    Fails fast instead of waiting out ``timeout_s`` when execution stops early (a cell raised, so
    JupyterLab dropped the rest of the queue): no cell running or queued for ``stall_s`` seconds while
    some have not run. The error names the cells and the tracebacks shown.
    """
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    deadline = time.monotonic() + timeout_s
    idle_since = None
    while time.monotonic() < deadline:
        prompts = [p.strip() for p in page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]
        # an executed cell's prompt reads [12]:, a running or queued one [*]:, one never run [ ]:
        if prompts and all(p[1:-2].isdigit() for p in prompts):
            return
        if prompts and not any("*" in p for p in prompts):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > stall_s:
                not_run = [i for i, p in enumerate(prompts) if not p[1:-2].isdigit()]
                raise RuntimeError(
                    f"execution stopped with {len(not_run)} code cells not run (first: code cell "
                    f"{not_run[0]}); outputs on stderr: {errors(page)}"
                )
        else:
            idle_since = None
        time.sleep(1)
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    raise TimeoutError(f"cells still running after {timeout_s:.0f} s; prompts: {prompts}; stderr: {errors(page)}")


def errors(page) -> list[str]:
    """Tracebacks shown in the notebook's outputs."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
