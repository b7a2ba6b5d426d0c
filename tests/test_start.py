"""Every student can start: the student bundle's README (docs/student-bundle-README.md) run as written,
as far as this Linux machine allows.

* Linux/macOS: the bash block, line by line, in a fresh virtual environment made from the bundle.
* Windows: the PowerShell block translated one to one (``py -3`` -> ``python``, ``\\`` -> ``/``,
  ``.venv\\Scripts\\python.exe`` -> ``.venv/bin/python``, ``$env:X = "v"`` -> the environment); every line
  must match a rule, so an edit of the README that the test cannot follow fails here.
* Colab: the two cells in IPython with a stand-in ``google.colab.drive`` that mounts a folder, and
  Drive at a temporary path.

What differs from a student's machine, each time: ``pip install`` gets ``--no-deps --no-index
--no-build-isolation`` and the dependencies, pip and setuptools come from this test environment (the
new environment is made ``--without-pip`` and a ``.pth`` file adds this one's site-packages to it),
because nothing is downloaded here; JupyterLab starts with
``--no-browser`` on a free port and is stopped once it answers; the student's work is a copy of the
release with small checkpoints saved the way the training cells save them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "docs" / "student-bundle-README.md"
A = "05_importance_sampling"
OFFLINE = ["--no-deps", "--no-index", "--no-build-isolation"]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def blocks(lang: str) -> list[list[str]]:
    """The README's code blocks of ``lang``, as lists of non-empty lines."""
    found = re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M)
    return [[line for line in block.splitlines() if line.strip()] for block in found]


def _clean_env() -> dict[str, str]:
    drop = (
        "PYTHONPATH",
        "COURSE_PROFILE",
        "NBGRADER_EXECUTION",
        "COURSE_STATIC_WIDGETS",
        "JUPYTER_CONFIG_PATH",
        "VIRTUAL_ENV",
    )
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _unpack_bundle(where: Path) -> Path:
    from autograder import bundle

    archive = bundle.build(where / "student-bundle.zip")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(where)  # the bundle this test just built
    return where / "dgm-course"


def _student_work(course: Path) -> None:
    """The student has run the assignment: the notebook and the checkpoint the graded cells need."""
    code = (
        "from course_lib.checkpoints import save_checkpoint; import torch; "
        f"save_checkpoint('notebooks/{A}/checkpoints/vae.pt', {{'model': {{'w': torch.zeros(2)}}}}, meta={{'profile': 'fast'}})"
    )
    subprocess.run([str(course / ".venv" / "bin" / "python"), "-c", code], cwd=course, env=_clean_env(), check=True)


def _make_venv(course: Path, target: str) -> None:
    # --without-pip: pip and setuptools come from the test environment too (the venv's own setuptools from
    # ensurepip is older than the one a networked pip would fetch to build the bundle)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", target], cwd=course, check=True, env=_clean_env())
    site = next((course / target / "lib").glob("python3*/site-packages"))
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_lab(argv: list[str], course: Path, env: dict) -> dict:
    """Start the README's JupyterLab command, wait until it answers, return its page config; stop it."""
    port = _free_port()
    log = course / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*argv, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.token="],
            cwd=course,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab").read().decode()
        config = json.loads(
            re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1)
        )
        contents = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents").read())
        config["_root"] = sorted(item["name"] for item in contents["content"])
        return config
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def _run(lines: list[str], course: Path, translate) -> dict:
    """Run README lines in ``course`` through ``translate`` (README line -> argv or env change)."""
    env = _clean_env()
    seen = {"lab": None, "submit": None}
    for line in lines:
        step = translate(line)
        if step is None:
            raise AssertionError(f"README line the test cannot follow: {line!r}")
        kind, value = step
        if kind == "env":
            env.update(value)
        elif kind == "venv":
            _make_venv(course, value)
        elif kind == "pip":
            subprocess.run([*value, *OFFLINE], cwd=course, env=env, check=True, capture_output=True, timeout=600)
        elif kind == "lab":
            seen["lab"] = _start_lab(value, course, env)
        elif kind == "submit":
            _student_work(course)
            proc = subprocess.run(
                [*[v.replace("YOUR_ID", "jdoe") for v in value]],
                cwd=course,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr
            seen["submit"] = proc.stdout
        else:  # pragma: no cover
            raise AssertionError(kind)
    seen["env"] = env
    return seen


def _python_step(argv: list[str]):
    if argv[1:3] == ["-m", "venv"]:
        return "venv", argv[3]
    if argv[1:4] == ["-m", "pip", "install"]:
        return "pip", argv
    if argv[1:3] == ["-m", "course_lib.lab"]:
        return "lab", argv
    if argv[1:3] == ["-m", "course_lib.submit"]:
        return "submit", argv
    return None


def bash_step(line: str):
    argv = shlex.split(line)
    if argv[0] == "export" and "=" in argv[1]:
        key, value = argv[1].split("=", 1)
        return "env", {key: value}
    if argv[0] == "python3":
        argv = [sys.executable, *argv[1:]]
    return _python_step(argv)


def powershell_step(line: str):
    m = re.fullmatch(r'\$env:(\w+) = "([^"]*)"', line.strip())
    if m:
        return "env", {m.group(1): m.group(2)}
    argv = line.replace("\\", "/").split()  # PowerShell's own quoting is not used in the README
    if argv[:2] == ["py", "-3"]:
        argv = [sys.executable, *argv[2:]]
    if argv[0] == ".venv/Scripts/python.exe":
        argv[0] = ".venv/bin/python"
    return _python_step(argv)


def _check(course: Path, seen: dict) -> None:
    config = seen["lab"]
    assert config is not None and "@jupyter/nbgrader:formgrader" in config["disabledExtensions"], "not the student view"
    assert config["_root"] == sorted(p.name for p in (course / "notebooks").iterdir() if p.is_dir())  # notebooks/
    assert "No nbgrader_config.py" not in (course / "lab.log").read_text()
    out = course / "notebooks" / f"{A}--jdoe.zip"
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(
            [f"{A}.ipynb", "checkpoints/vae.pt", "checkpoints/vae.json", "manifest.json"]
        )
    where = subprocess.run(
        [str(course / ".venv" / "bin" / "python"), "-c", "import course_lib; print(course_lib.__file__)"],
        cwd=course.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(course), f"course_lib came from {where}, not the bundle"
    assert seen["env"]["COURSE_PROFILE"] == "fast"


def test_linux_and_macos_steps(tmp_path):
    course = _unpack_bundle(tmp_path)
    setup, pack = blocks("bash")
    _check(course, _run(setup + pack, course, bash_step))


def test_windows_powershell_steps_translated_one_to_one(tmp_path):
    course = _unpack_bundle(tmp_path)
    setup, pack = blocks("powershell")
    assert all(powershell_step(line) for line in setup + pack)
    _check(course, _run(setup + pack, course, powershell_step))


def test_colab_cells(tmp_path):
    """The Colab cells in IPython: with Drive "mounted" they install the bundle, move into the notebook's
    folder in Drive, pick the fast profile; the notebook's first cell then runs, a checkpoint lands in
    Drive, the submit cell writes the zip there. Without Colab (the grader, a laptop) they do nothing and
    raise no tampering flag."""
    from autograder import tamper

    setup, pack = ["\n".join(b) for b in blocks("python")]
    assert tamper.scan([(0, "setup", setup), (1, "submit", pack)], []) == []
    drive_root = tmp_path / "content" / "drive"
    (drive_root / "MyDrive").mkdir(parents=True)
    course = _unpack_bundle(drive_root / "MyDrive")
    _make_venv(tmp_path, "venv")
    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "colab" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "drive.py").write_text(
        "import os\ndef mount(mountpoint, **kwargs):\n"
        "    os.makedirs(os.path.join(mountpoint, 'MyDrive'), exist_ok=True)\n    print('Mounted at', mountpoint)\n"
    )
    assert setup.count("/content/drive") == 2 and "%pip install -q {COURSE}" in setup
    colab_setup = setup.replace("/content/drive", str(drive_root)).replace(
        "%pip install -q {COURSE}", f"%pip install -q {' '.join(OFFLINE)} {{COURSE}}"
    )
    first_cell = json.loads((course / "notebooks" / A / f"{A}.ipynb").read_text())["cells"]
    first_cell = "".join(next(c for c in first_cell if c["cell_type"] == "code")["source"])
    # the cells run in a real Jupyter kernel of the new environment, as in Colab
    script = tmp_path / "colab.py"
    script.write_text(
        "import json, sys\n"
        "import nbformat\n"
        "from nbclient import NotebookClient\n"
        "cells = json.loads(sys.argv[1])\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])\n"
        "NotebookClient(nb, timeout=600, kernel_name='python3').execute()\n"
        "print(''.join(o.get('text', '') for o in nb.cells[-1].outputs if o.output_type == 'stream'))\n"
    )
    python = str(tmp_path / "venv" / "bin" / "python")
    report_cell = (
        "import json, os, sys\nprint(json.dumps({'cwd': os.getcwd(), 'profile': os.environ.get('COURSE_PROFILE'), "
        "'course_lib': getattr(sys.modules.get('course_lib'), '__file__', None)}))"
    )
    save = (
        "from course_lib.checkpoints import save_checkpoint\nimport torch\n"
        "save_checkpoint('checkpoints/vae.pt', {'model': {'w': torch.zeros(2)}}, meta={'profile': PROFILE})"
    )
    submit_cell = pack.replace("YOUR_ID", "jdoe")

    def run(cells, env):
        proc = subprocess.run(
            [python, str(script), json.dumps(cells)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    # without Colab (a laptop, the grader's sandbox): nothing happens
    assert run([colab_setup, report_cell], _clean_env()) == {"cwd": str(tmp_path), "profile": None, "course_lib": None}
    env = {**_clean_env(), "PYTHONPATH": str(fake)}
    report = run([colab_setup, first_cell, save, submit_cell, report_cell], env)
    assert report["cwd"] == str(course / "notebooks" / A) and report["profile"] == "fast"
    assert Path(report["course_lib"]).is_relative_to(tmp_path / "venv"), report  # installed from the bundle
    assert (course / "notebooks" / A / "checkpoints" / "vae.pt").is_file()  # saved in "Drive"
    with zipfile.ZipFile(course / "notebooks" / f"{A}--jdoe.zip") as zf:
        assert "checkpoints/vae.pt" in zf.namelist() and json.loads(zf.read("manifest.json"))["profile"] == "fast"
