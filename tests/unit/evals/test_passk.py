from __future__ import annotations

import math

import pytest

from wavecoder.evals.passk import aggregate, count_passes, pass_at_k


def binomial_form(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(10, 3, 1), (10, 3, 5), (200, 17, 100), (5, 0, 1), (5, 5, 5), (20, 19, 2)]
)
def test_matches_binomial_definition(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(binomial_form(n, c, k), abs=1e-12)


def test_pass_at_1_is_fraction_correct() -> None:
    assert pass_at_k(6, 3, 1) == pytest.approx(0.5)


def test_stable_for_large_n() -> None:
    value = pass_at_k(10_000, 1, 5_000)
    assert value == pytest.approx(0.5, abs=1e-9)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_aggregate_reports_only_when_every_problem_has_k() -> None:
    counts = count_passes([("a", True), ("a", False), ("b", False), ("b", False), ("b", True)])
    assert counts == {"a": (2, 1), "b": (3, 1)}
    scores, skipped = aggregate(counts, (1, 2, 3))
    assert scores["pass@1"] == pytest.approx((0.5 + 1 / 3) / 2)
    assert "pass@2" in scores and "pass@3" not in scores
    assert "pass@3" in skipped and "fewer than 3" in skipped["pass@3"]
