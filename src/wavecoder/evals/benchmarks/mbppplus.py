"""MBPP+ in evalplus's release format (`MbppPlus.jsonl[.gz]`): rows with base and plus inputs.

Rows carry `base_input`, `plus_input` (lists of argument lists, JSON) and `atol`, read by
`humanevalplus.load` with evalplus's dataset name `mbpp` (its MBPP+ special oracles apply; see
`wavecoder.evals.evalplus_oracle`). JSON has no tuples, sets or complex numbers, so evalplus
rebuilds them per task before running anything: `deserialize_inputs` is evalplus 0.3.1's
`mbpp_deserialize_inputs` (Apache-2.0), applied to the base and the plus inputs alike. The
solution evalplus runs is `prompt + completion` (the prompt is a docstring), as for HumanEval+.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wavecoder.evals.benchmarks import humanevalplus
from wavecoder.evals.types import Problem

_ROW_TUPLES = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616,
               630, 726, 740, 744, 809}  # fmt: skip
_NESTED_TUPLES = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_FIRST_NESTED = {75, 413, 444, 753}
_SECOND_TUPLE = {106, 750}
_FIRST_TUPLE = {250, 405, 446, 617, 720, 763, 808}
_DOUBLE_NESTED = {259, 401, 445}
_ALL_TUPLES = {580, 615, 791}


def load(path: Path, benchmark: str) -> list[Problem]:
    return humanevalplus.load(path, benchmark, dataset="mbpp")


def _tuples(x: Any) -> Any:
    return tuple(_tuples(i) for i in x) if isinstance(x, list) else x


def deserialize_inputs(task_id: str, inputs: list[Any]) -> list[Any]:
    """The argument lists evalplus calls MBPP+ task `task_id` with (tuples, sets, complex)."""
    n = int(task_id.split("/")[-1])
    if n in _ROW_TUPLES:
        return [[tuple(x) for x in inp] for inp in inputs]
    if n in _NESTED_TUPLES:
        return [[[tuple(x) for x in row] for row in inp] for inp in inputs]
    if n in _FIRST_NESTED:
        return [[[tuple(x) for x in inp[0]], inp[1]] for inp in inputs]
    if n in _SECOND_TUPLE:
        return [[inp[0], tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [
            [[set(x) if isinstance(x, list) and len(x) else {} for x in inp[0]]] for inp in inputs
        ]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in _FIRST_TUPLE:
        return [[tuple(inp[0]), inp[1]] for inp in inputs]
    if n in _DOUBLE_NESTED:
        nested = [[[tuple(x) for x in row] for row in inp] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in nested]
    if n == 278:
        flat = [[[tuple(x) if isinstance(x, list) else x for x in inp[0]]] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in flat]
    if n == 307:
        return [[tuple(inp[0]), inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}, *inp[1:]] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in _ALL_TUPLES:
        return [_tuples(inp) for inp in inputs]
    return inputs
