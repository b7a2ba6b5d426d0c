"""The student's functions called from the trusted side: every answer must be what calling the same
function locally gives (values, gradients, in-place changes, errors), checked here against running the
same code in this process, while the code itself only ever runs in the sandboxed probe."""

from __future__ import annotations

import copy
import time

import pytest
import torch

from autograder import sandbox
from autograder.remote import ProbeFailed, ProbeSession, RemoteObject, StudentCodeError

ANSWERS = """
def double(x):
    return x * 2

def loss(model, x):
    return ((model(x) - 1) ** 2).mean()

def parts(model, x):
    out = model(x)
    return out.sum(), {"mean": out.mean(), "n": out.shape[0], "name": "parts"}

def penalty(critic, x):
    x = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()

def bump(t, model):
    t.add_(1)
    with torch.no_grad():
        model.weight.mul_(2)

def backward_inside(model, x):
    value = loss(model, x)
    value.backward()
    return value.detach()

def schedule(v):
    return lambda epoch: v * epoch

def detached(x):
    return (x * 3).detach()

def bad():
    raise ValueError("a bad value")

def custom():
    class Oops(Exception):
        pass
    raise Oops("custom")

def todo():
    raise NotImplementedError()

def nothing():
    return object()

def liar():
    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True
    return torch.zeros(2).as_subclass(Liar)

def grad_mode(x):
    return torch.is_grad_enabled()

def leave():
    import os
    os._exit(3)

def forever():
    while True:
        pass
"""
SETUP = "import torch\n"
LIMITS = sandbox.Limits(wall_s=600, scratch_mb=64)


def _local():
    ns = {}
    exec(SETUP + ANSWERS, ns)
    return ns


@pytest.fixture(scope="module")
def session():
    s = ProbeSession(SETUP, [("answers", ANSWERS)], limits=LIMITS, env={"OMP_NUM_THREADS": "1"})
    s.start(deadline=time.monotonic() + 120)
    s.deadline = time.monotonic() + 300
    yield s
    s.close()


def test_values_and_containers(session):
    double = session.function("double")
    x = torch.arange(5.0)
    assert torch.equal(double(x), x * 2)
    model = torch.nn.Linear(3, 2)
    total, info = session.function("parts")(model, torch.ones(4, 3))
    want_total, want_info = _local()["parts"](model, torch.ones(4, 3))
    assert torch.allclose(total, want_total) and info["n"] == 4 and info["name"] == "parts"
    assert "answers" not in session.load_errors and "double" in session.names


def test_gradients_flow_back_to_parameters_and_inputs_as_if_local(session):
    torch.manual_seed(0)
    model, x = torch.nn.Linear(3, 1), torch.randn(5, 3, requires_grad=True)
    here, xl = copy.deepcopy(model), x.detach().clone().requires_grad_(True)
    session.function("loss")(model, x).backward()
    _local()["loss"](here, xl).backward()
    assert torch.allclose(model.weight.grad, here.weight.grad) and torch.allclose(x.grad, xl.grad)
    # torch.autograd.grad through a result that also went through local operations
    y = torch.randn(4, 3, requires_grad=True)
    (g_remote,) = torch.autograd.grad(3 * session.function("double")(y).sum(), y)
    assert torch.allclose(g_remote, torch.full_like(y, 6.0))


def test_a_penalty_with_create_graph_inside_backpropagates_to_the_critic(session):
    torch.manual_seed(1)
    critic = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    here = copy.deepcopy(critic)
    x = torch.randn(6, 4)
    session.function("penalty")(critic, x).backward()
    _local()["penalty"](here, x).backward()
    for a, b in zip(critic.parameters(), here.parameters()):
        assert (a.grad is None and b.grad is None) or torch.allclose(a.grad, b.grad, atol=1e-6)
    assert critic[0].weight.grad is not None and critic[0].weight.grad.abs().sum() > 0


def test_in_place_changes_and_gradients_set_inside_come_back(session):
    t, model = torch.zeros(3), torch.nn.Linear(2, 2)
    w = model.weight.detach().clone()
    session.function("bump")(t, model)
    assert torch.equal(t, torch.ones(3)) and torch.allclose(model.weight, 2 * w)
    torch.manual_seed(2)
    model, x = torch.nn.Linear(3, 1), torch.randn(5, 3)
    here = copy.deepcopy(model)
    value = session.function("backward_inside")(model, x)
    _local()["backward_inside"](here, x)
    assert not value.requires_grad and torch.allclose(model.weight.grad, here.weight.grad)


def test_a_module_changed_here_is_sent_again(session):
    model = torch.nn.Linear(2, 1, bias=False)
    f = session.function("loss")
    x = torch.ones(1, 2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    first = f(model, x).item()
    with torch.no_grad():
        model.weight.fill_(3.0)
    assert (first, f(model, x).item()) == pytest.approx(((2 - 1) ** 2, (6 - 1) ** 2))


def test_returned_functions_stay_in_the_sandbox(session):
    schedule = session.function("schedule")(0.5)
    assert isinstance(schedule, RemoteObject) and schedule(4) == 2.0


def test_detach_and_grad_mode_are_the_students_own(session):
    x = torch.ones(2, requires_grad=True)
    assert not session.function("detached")(x).requires_grad
    with torch.no_grad():
        assert session.function("grad_mode")(x) is False
    assert session.function("grad_mode")(x) is True


def test_errors_keep_their_type_and_message(session):
    with pytest.raises(ValueError, match="a bad value") as info:
        session.function("bad")()
    assert info.value.student_code and "in bad" in info.value.student_traceback
    with pytest.raises(StudentCodeError, match="Oops: custom"):
        session.function("custom")()
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        session.function("todo")()
    with pytest.raises(NameError, match="did not define it"):
        session.function("missing")()
    other = session.function("nothing")()  # an object with no data form stays in the sandbox
    assert isinstance(other, RemoteObject)
    with pytest.raises(TypeError, match="not callable"):
        other()


def test_a_tensor_that_lies_about_equality_arrives_as_a_plain_tensor(session):
    value = session.function("liar")()
    assert type(value) is torch.Tensor and not torch.equal(value, torch.ones(2))


def test_a_probe_that_exits_or_hangs_fails_the_call_and_can_be_restarted():
    s = ProbeSession(SETUP, [("answers", ANSWERS)], limits=LIMITS)
    try:
        s.start(deadline=time.monotonic() + 120)
        s.deadline = time.monotonic() + 60
        with pytest.raises(ProbeFailed, match="stopped"):
            s.function("leave")()
        assert not s.alive()
        s.start(deadline=time.monotonic() + 120)
        s.deadline = time.monotonic() + 3
        start = time.monotonic()
        with pytest.raises(ProbeFailed, match="time limit"):
            s.function("forever")()
        assert time.monotonic() - start < 10 and not s.alive()
    finally:
        s.close()


def test_an_answer_cell_past_the_cell_limit_is_interrupted_and_the_next_cells_still_load():
    """Loading runs each answer cell under the notebook's per-cell limit, as nbgrader's run does: a cell that
    outlives it (even one that catches ``Exception``) defines nothing after that point, the others load."""
    slow = "import time\ntry:\n    time.sleep(30)\nexcept Exception:\n    pass\ndef late():\n    return 1"
    s = ProbeSession(SETUP, [("slow", slow), ("answers", ANSWERS)], limits=LIMITS, cell_timeout=2)
    try:
        start = time.monotonic()
        s.start(deadline=time.monotonic() + 120)
        assert time.monotonic() - start < 25
        assert "limit of 2 s" in s.load_errors["slow"]["message"], s.load_errors
        assert "late" not in s.names and "double" in s.names and "answers" not in s.load_errors
        s.deadline = time.monotonic() + 60
        assert s.function("double")(torch.tensor(2.0)).item() == 4.0
    finally:
        s.close()
