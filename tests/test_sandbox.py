"""Safe grading: a submission that hogs memory, loops forever, kills its kernel or reaches for the
network loses the points of the cells it broke, and nothing else."""
from __future__ import annotations

import socket
import threading

import nbformat
import pytest

from autograder import release, sandbox
from autograder.grade import grade
from nbfactory import toy_assignment


def _listener():
    """A TCP server on the host's loopback that records every connection made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], hits, lambda: (stop.set(), thread.join(), server.close())


@pytest.mark.slow
def test_sandboxed_grading_contains_each_failure(tmp_path, monkeypatch):
    if not sandbox.unshare_prefix():
        pytest.skip("no network namespaces on this machine (unshare -n is refused)")
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "20")
    sol = tmp_path / "solutions"
    toy_assignment(sol)
    release.generate(out=tmp_path / "notebooks", solutions=sol)
    port, hits, close = _listener()
    good_add = "def add(a, b):\n    return a + b"
    good_square = "def square(x):\n    return x * x"
    students = {
        "memory": ("import numpy as np\nhog = np.ones(2_500_000_000)  # 20 GB\n" + good_add, good_square),
        "network": ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), timeout=3).close()\n"
                    "    reached = True\nexcept OSError:\n    reached = False\n" % port + good_add, good_square),
        "loop": (good_add, "while True:\n    pass\n" + good_square),
        "dies": (good_add, "import os\nos._exit(1)\n" + good_square),
        "honest": (good_add, good_square),
    }
    subs = tmp_path / "subs"
    for student, (add_src, square_src) in students.items():
        nb = nbformat.read(tmp_path / "notebooks" / "00_toy" / "00_toy.ipynb", as_version=4)
        nb.cells[2].source, nb.cells[4].source = add_src, square_src
        (subs / student / "00_toy").mkdir(parents=True)
        nbformat.write(nb, subs / student / "00_toy" / "00_toy.ipynb")
    try:
        results = {r.student: r for r in grade(subs, tmp_path / "course", solutions=sol,
                                               sandbox={"memory_mb": 3000, "cpu_s": 600}, log=lambda *_: None)}
    finally:
        close()
    assert hits == [], "a graded submission reached a server on the host"
    assert results["network"].cells == {"test_add": (2.0, 2.0), "test_square": (1.0, 1.0)}
    assert results["honest"].cells == {"test_add": (2.0, 2.0), "test_square": (1.0, 1.0)}
    assert results["memory"].cells == {"test_add": (0.0, 2.0), "test_square": (1.0, 1.0)}
    assert results["memory"].reasons["test_add"].startswith("NameError")  # add was never defined
    assert results["loop"].cells == {"test_add": (2.0, 2.0), "test_square": (0.0, 1.0)}
    assert results["dies"].cells["test_add"] == (2.0, 2.0) and results["dies"].cells["test_square"][0] == 0.0
