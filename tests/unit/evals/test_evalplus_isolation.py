"""HumanEval+ / MBPP+ verdicts cannot be forged from inside the candidate's process.

The candidate gets only the inputs and sends its outputs as data; the comparison runs in the
scorer. Each attack below passed when the harness compared in the sandbox (with the expected
outputs, a nonce and a result descriptor in the candidate's reach). Both sandbox paths."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from wavecoder.evals import evalplus_rules, forkserver
from wavecoder.evals.benchmarks import load, sha256
from wavecoder.evals.types import Completion

pytestmark = pytest.mark.usefixtures("sandbox_ok", "sandbox_path")
TASK = "HumanEval/53"  # add(x, y)


@pytest.fixture(params=["forkserver", "multiprocess"])
def sandbox_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(forkserver.ENV_SWITCH, "1" if request.param == "forkserver" else "0")
    yield request.param


@pytest.fixture(scope="module")
def task(benchmarks_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> object:
    _, problems, path = load("humanevalplus-mini", benchmarks_dir)
    problem = next(p for p in problems if p.task_id == TASK)
    cache = tmp_path_factory.mktemp("truth")
    return evalplus_rules.ground_truth([problem], sha256(path), cache=cache)[TASK]


_FRAME = (
    "    import sys\n    f = sys._getframe()\n"
    "    while f is not None and {name!r} not in f.f_locals:\n        f = f.f_back\n"
)
ATTACKS = {
    # the attack: find the nonce and the result descriptor, write a passing result
    "forged passing result": _FRAME.format(name="nonce")
    + "    import os, json\n    loc = f.f_locals\n"
    "    os.write(loc['result_fd'], loc['nonce'] + b' ' + json.dumps("
    "{'passed': True, 'done': 1}).encode() + b'\\n')\n    os._exit(0)\n",
    # read the expected output of the current input from the harness's frames
    "expected outputs read from the harness": _FRAME.format(name="job")
    + "    loc = f.f_locals\n    return loc['job']['expected'][loc['i']]\n",
    # an object whose __eq__ says yes to anything
    "lying __eq__": "    return Liar()\n\nclass Liar:\n    def __eq__(self, other):\n"
    "        return True\n    __hash__ = None\n",
    "list subclass with a lying __eq__": "    return Liar([0])\n\nclass Liar(list):\n"
    "    def __eq__(self, other):\n        return True\n    __hash__ = None\n",
    "exit 0 before anything": "    pass\nimport os\nos._exit(0)\n",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_fail(task: evalplus_rules.PlusTask, attack: str) -> None:
    outcome = evalplus_rules.check(task, Completion(TASK, 0, ATTACKS[attack]))
    assert outcome.status == "fail", (attack, outcome)
    assert outcome.stage == "base"


def test_honest_candidates_still_pass(task: evalplus_rules.PlusTask) -> None:
    honest = {
        "canonical": task.problem.canonical_solution,
        "numpy integer": "    import numpy as np\n    return np.int64(x) + np.int64(y)\n",
        "prints and writes to stderr": "    import sys\n    print('hi')\n"
        "    sys.stderr.write('x' * 10000)\n    return x + y\n",
        # evalplus execs in an empty namespace: a main block does not run there either
        "main block that exits": "    return x + y\n\nif __name__ == '__main__':\n"
        "    import sys\n    sys.exit(input())\n",
    }
    for name, completion in honest.items():
        outcome = evalplus_rules.check(task, Completion(TASK, 0, completion))
        assert outcome.status == "pass", (name, outcome)


def test_expected_outputs_never_enter_the_sandbox(
    task: evalplus_rules.PlusTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, object]] = []
    real = evalplus_rules.sandbox.run

    def spy(job, mode="namespaces"):  # type: ignore[no-untyped-def]
        sent.append(pickle.loads(job.files["job.pkl"]))
        return real(job, mode=mode)

    monkeypatch.setattr(evalplus_rules.sandbox, "run", spy)
    evalplus_rules.check(task, Completion(TASK, 0, task.problem.canonical_solution))
    assert len(sent) == 2  # base, then plus
    keys = {"code", "entry_point", "inputs", "limits", "not_none", "copy_inputs", "nonce"}
    assert all(set(job) == keys for job in sent)
