"""evalplus's output comparison (0.3.1), run in the scorer on outputs received as data.

The candidate never sees the expected outputs and never runs in this process: it sends each
output pickled (see `evalplus_harness`), `decode` rebuilds it with an unpickler that admits only
plain data types (builtins' containers and numbers, the `collections` containers, `Fraction`,
`Decimal`, numpy scalars and arrays), so what is compared is plain data with the standard
library's and numpy's own `__eq__`, never the candidate's. Anything else is refused: the output
cannot be checked, and the input fails.

`matches` is evalplus's rule: exact `==`; the special oracles (HumanEval/32 `find_zero` checked by
`|poly(xs, out)| <= atol`; for MBPP+: `are_equivalent` always right, `sum_div` may answer 0,
`surface_Area` and `digit_distance_nums` checked against evalplus's reference formulas, set
equality for `MBPP_SET_EQ`, and only "is not None" for `MBPP_NOT_NONE`); otherwise, when `atol`
is set (1e-6 is forced for float outputs), same type, same length and `np.allclose(rtol=1e-7)`.
Known differences: evalplus 0.3.1 fails every `find_zero` candidate (its oracle `continue`s before
recording the pass), here the oracle is applied as intended; and its oracles see the input after
the candidate may have mutated it, here the input as the dataset gives it.
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable, Sequence
from typing import Any

MBPP_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
MBPP_SET_EQ = (
    "similar_elements",
    "find_char_long",
    "common_in_nested_lists",
    "extract_singly",
    "larg_nnum",
    "intersection_array",
    "find_dissimilar",
    "Diff",
)
FLOAT_ATOL = 1e-6  # evalplus enforces it for float outputs when the problem's atol is 0


def _bytearray(data: Any = b"", *rest: Any) -> bytearray:
    if rest or not isinstance(data, (bytes, bytearray)):  # bytearray(n) would allocate n bytes
        raise pickle.UnpicklingError("bytearray from anything but bytes")
    return bytearray(data)


def _allowed() -> dict[tuple[str, str], Any]:
    import builtins
    import collections
    import decimal
    import fractions

    table: dict[tuple[str, str], Any] = {
        ("builtins", n): getattr(builtins, n)
        for n in ("list", "tuple", "dict", "set", "frozenset", "complex", "int", "float", "bool")
    }
    table[("builtins", "bytearray")] = _bytearray
    for name in ("OrderedDict", "Counter", "deque", "defaultdict"):
        table[("collections", name)] = getattr(collections, name)
    table[("fractions", "Fraction")] = fractions.Fraction
    table[("decimal", "Decimal")] = decimal.Decimal
    return table


_NUMPY = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
}
_TABLE: dict[tuple[str, str], Any] = {}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if not _TABLE:
            _TABLE.update(_allowed())
        if (module, name) in _TABLE:
            return _TABLE[(module, name)]
        if (module, name) in _NUMPY:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: not plain data")


def decode(data: bytes) -> Any:
    """A pickled value rebuilt from plain data types only (UnpicklingError otherwise)."""
    return _DataUnpickler(io.BytesIO(data)).load()


def _poly(xs: list[Any], x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge: float, height: float) -> int:  # evalplus's Mbpp/581 oracle
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance(num1: int, num2: int) -> int:  # evalplus's Mbpp/558 oracle
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


def is_floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return type(x).__name__ == "ndarray" and str(x.dtype) in ("float64", "float32")


def _mbpp_oracle(entry_point: str) -> Callable[[bool, Any, Any, list[Any], float], bool] | None:
    if entry_point == "are_equivalent":  # Mbpp/164
        return lambda exact, out, exp, inp, atol: True
    if entry_point == "sum_div":  # Mbpp/295
        return lambda exact, out, exp, inp, atol: exact or out == 0
    if entry_point == "surface_Area":  # Mbpp/581
        return lambda exact, out, exp, inp, atol: exact or abs(out - _surface_area(*inp)) <= atol
    if entry_point == "digit_distance_nums":  # Mbpp/558
        return lambda exact, out, exp, inp, atol: exact or out == _digit_distance(*inp)
    if entry_point in MBPP_SET_EQ:
        return lambda exact, out, exp, inp, atol: set(out) == set(exp)
    if entry_point in MBPP_NOT_NONE:  # the expected output is "was not None"
        return lambda exact, out, exp, inp, atol: (
            out == exp if isinstance(out, bool) else exp == (out is not None)
        )
    return None


def matches(
    dataset: str, entry_point: str, out: Any, exp: Any, inp: list[Any], atol: float
) -> bool:
    """evalplus's verdict for one output; any exception while comparing is a mismatch."""
    try:
        return _matches(dataset, entry_point, out, exp, inp, atol)
    except Exception:  # e.g. an unhashable output for a set oracle, a RecursionError
        return False


def _matches(
    dataset: str, entry_point: str, out: Any, exp: Any, inp: list[Any], atol: float
) -> bool:
    if dataset == "humaneval" and entry_point == "find_zero":  # HumanEval/32: any root will do
        return bool(abs(_poly(inp[0], out)) <= atol)
    exact = bool(out == exp)
    oracle = _mbpp_oracle(entry_point) if dataset == "mbpp" else None
    if oracle is not None:
        exact = bool(oracle(exact, out, exp, inp, atol))
    if atol == 0 and is_floats(exp):
        atol = FLOAT_ATOL
    if not exact and atol != 0:
        import numpy as np

        if type(out) is not type(exp):
            return False
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol))
    return exact


def first_mismatch(
    dataset: str,
    entry_point: str,
    outputs: Sequence[Any],
    expected: Sequence[Any],
    inputs: Sequence[list[Any]],
    atol: float,
) -> tuple[int, str] | None:
    """(index, why) of the first input whose output is missing, undecodable or wrong; else None.

    `outputs` are the pickled outputs as received. As in evalplus's loop, once a float output
    forced atol to 1e-6 it stays forced for the inputs after it."""
    for i, exp in enumerate(expected):
        if i >= len(outputs):
            return i, "no output"
        raw = outputs[i]
        try:
            if not isinstance(raw, bytes):
                raise pickle.UnpicklingError(f"not bytes but {type(raw).__name__}")
            out = decode(raw)
        except Exception as exc:
            return i, f"output cannot be checked ({str(exc)[:200]})"
        if not matches(dataset, entry_point, out, exp, inputs[i], atol):
            return i, "wrong output"
        if (
            atol == 0
            and is_floats(exp)
            and not (dataset == "humaneval" and entry_point == "find_zero")
        ):
            atol = FLOAT_ATOL
    return None
