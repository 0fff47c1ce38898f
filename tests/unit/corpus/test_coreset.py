"""k-center greedy: extremes first, determinism, k >= N, duplicates, agreement with brute force
(random and clustered data, pruning on and off), cosine, and the torch path."""

from __future__ import annotations

import numpy as np
import pytest

from wavecoder.corpus import coreset
from wavecoder.corpus.coreset import first_center, kcenter_greedy


def brute_force(x: np.ndarray, k: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Textbook farthest-point sampling in float64 with explicit distances."""
    x = x.astype(np.float64)
    mind = np.full(len(x), np.inf)
    picks, radii = [], []
    j = first
    for _ in range(k):
        picks.append(j)
        mind = np.minimum(mind, np.sqrt(((x - x[j]) ** 2).sum(axis=1)))
        mind[picks] = -1.0
        j = int(np.argmax(mind))
        radii.append(max(mind[j], 0.0))
    return np.array(picks), np.array(radii)


def assert_valid_greedy(x: np.ndarray, picks: np.ndarray, radii: np.ndarray, rtol: float) -> None:
    """Each pick is (within rtol) a farthest row from the earlier picks, and radii are right.

    This accepts a different choice among near-tied rows, which float32 rounding may make."""
    x = x.astype(np.float64)
    mind = np.full(len(x), np.inf)
    for m, j in enumerate(picks):
        if m:
            assert mind[j] >= mind.max() * (1 - rtol), f"pick {m} is not a farthest row"
        mind = np.minimum(mind, np.sqrt(((x - x[j]) ** 2).sum(axis=1)))
        assert radii[m] == pytest.approx(mind.max(), rel=rtol, abs=1e-6)


def clustered(n: int, d: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)) * 4
    labels = rng.integers(clusters, size=n)
    spread = rng.uniform(0.2, 0.5, size=clusters)[labels, None]
    return (centres[labels] + rng.standard_normal((n, d)) * spread).astype(np.float32)


def test_toy_points_extremes_first() -> None:
    # A unit square's corners and its centre, plus points inside: after any first pick the
    # corners must come before any interior point.
    corners = [(0, 0), (0, 10), (10, 0), (10, 10)]
    inner = [(5, 5), (4, 6), (6, 4), (5, 3), (3, 5)]
    x = np.array(corners + inner, dtype=np.float32)
    for seed in range(6):
        res = kcenter_greedy(x, 5, seed=seed)
        first = first_center(len(x), seed)
        assert res.indices[0] == first
        rest = [i for i in res.indices[1:].tolist() if i != first]
        expected = {0, 1, 2, 3} - {first}
        assert set(rest[: len(expected)]) == expected


def test_line_picks_the_far_end_then_the_middle() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
    res = kcenter_greedy(x, 3, seed=0)
    first = res.indices[0]
    far = 4 if first < 2 else 0
    assert res.indices[1] == far
    assert res.radii[0] == pytest.approx(abs(far - first))


def test_first_center_depends_on_seed_and_is_not_always_zero() -> None:
    firsts = {first_center(1000, s) for s in range(20)}
    assert len(firsts) > 10


def test_deterministic_by_seed() -> None:
    x = np.random.default_rng(1).standard_normal((400, 16)).astype(np.float32)
    a = kcenter_greedy(x, 50, seed=7)
    b = kcenter_greedy(x, 50, seed=7)
    c = kcenter_greedy(x, 50, seed=8)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.radii, b.radii)
    assert a.indices[0] != c.indices[0] or not np.array_equal(a.indices, c.indices)


@pytest.mark.parametrize("prune", [True, False])
def test_k_at_least_n_returns_every_row_once(prune: bool) -> None:
    x = np.random.default_rng(2).standard_normal((30, 4)).astype(np.float32)
    res = kcenter_greedy(x, 100, seed=3, prune=prune)
    assert sorted(res.indices.tolist()) == list(range(30))
    assert res.radii[-1] == 0.0
    assert np.all(np.diff(res.radii) <= 1e-6)
    np.testing.assert_allclose(res.min_dist, 0.0, atol=1e-3)


@pytest.mark.parametrize("prune", [True, False])
def test_duplicate_points(prune: bool) -> None:
    base = np.array([[0, 0], [5, 0], [0, 5]], dtype=np.float32)
    x = np.repeat(base, 4, axis=0)  # every point four times
    res = kcenter_greedy(x, 12, seed=0, prune=prune)
    assert len(set(res.indices.tolist())) == 12  # distinct rows, even among duplicates
    first3 = {tuple(x[i]) for i in res.indices[:3]}
    assert len(first3) == 3  # the three distinct points come first
    np.testing.assert_allclose(res.radii[2:], 0.0, atol=1e-4)
    assert res.radii[1] > 0


def test_k_zero_and_empty() -> None:
    x = np.ones((5, 3), np.float32)
    assert len(kcenter_greedy(x, 0).indices) == 0
    assert len(kcenter_greedy(np.zeros((0, 3), np.float32), 5).indices) == 0


def test_rejects_nan() -> None:
    x = np.ones((5, 3), np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kcenter_greedy(x, 2)


def test_agrees_with_brute_force_on_random_data() -> None:
    x = np.random.default_rng(4).standard_normal((1500, 24)).astype(np.float32)
    picks, radii = brute_force(x, 200, first_center(len(x), 5))
    for prune in (True, False):
        res = kcenter_greedy(x, 200, seed=5, prune=prune)
        np.testing.assert_array_equal(res.indices, picks)
        np.testing.assert_allclose(res.radii, radii, rtol=1e-5)


def test_agrees_with_brute_force_on_clustered_data_with_pruning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Enough picks to pass several relayouts (at 32, 64, ... centres), where pruning kicks in.
    x = clustered(3000, 16, 25, seed=6)
    k = 400
    relayouts: list[int] = []
    original = coreset._Blocks._relayout

    def spy(self: coreset._Blocks, m: int, j: int) -> int:
        relayouts.append(m)
        return original(self, m, j)

    monkeypatch.setattr(coreset._Blocks, "_relayout", spy)
    picks, radii = brute_force(x, k, first_center(len(x), 9))
    res = kcenter_greedy(x, k, seed=9, prune=True)
    assert len(relayouts) >= 2
    plain = kcenter_greedy(x, k, seed=9, prune=False)
    np.testing.assert_array_equal(res.indices, plain.indices)  # pruning changes nothing
    # float32 may choose differently among near-tied rows late on; until then, identical
    diverge = np.flatnonzero(res.indices != picks)
    assert len(diverge) == 0 or diverge[0] > 100
    assert_valid_greedy(x, res.indices, res.radii, rtol=1e-4)
    np.testing.assert_allclose(res.radii, radii, rtol=1e-3)


def test_pruning_skips_rows_on_clustered_data(monkeypatch: pytest.MonkeyPatch) -> None:
    x = clustered(4000, 16, 20, seed=7)
    touched: list[int] = []
    original = coreset._Blocks._touched_runs

    def counting(self: coreset._Blocks, c: np.ndarray) -> list[tuple[int, int, int, int]]:
        runs = original(self, c)
        touched.append(sum(hi - lo for lo, hi, _, _ in runs))
        return runs

    monkeypatch.setattr(coreset._Blocks, "_touched_runs", counting)
    kcenter_greedy(x, 300, seed=1, prune=True)
    late = np.array(touched[150:])
    assert late.mean() < 0.2 * len(x), "pruning should skip most rows once clusters are covered"


def test_no_relayout_on_isotropic_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing can be pruned there, so the layout is never rebuilt (it would only cost passes).
    calls: list[int] = []

    def spy(self: coreset._Blocks, m: int, j: int) -> int:
        calls.append(m)
        return j

    monkeypatch.setattr(coreset._Blocks, "_relayout", spy)
    x = np.random.default_rng(12).standard_normal((2000, 64)).astype(np.float32)
    kcenter_greedy(x, 300, seed=0)
    assert calls == []


def test_cosine_metric_matches_normalised_euclidean() -> None:
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((500, 12)) * rng.uniform(0.5, 5, size=(500, 1))).astype(np.float32)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = kcenter_greedy(x, 60, seed=2, metric="cosine")
    euc = kcenter_greedy(unit, 60, seed=2, metric="euclidean")
    np.testing.assert_array_equal(cos.indices, euc.indices)
    np.testing.assert_allclose(cos.radii, euc.radii**2 / 2, rtol=1e-4)  # 1 - cos = |a-b|^2 / 2


def test_nearest_and_min_dist_describe_the_cover() -> None:
    x = np.random.default_rng(9).standard_normal((300, 5)).astype(np.float32)
    res = kcenter_greedy(x, 20, seed=0)
    centres = x[res.indices].astype(np.float64)
    d = np.sqrt(((x[:, None, :] - centres[None]) ** 2).sum(-1))
    np.testing.assert_allclose(res.min_dist, d.min(axis=1), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(res.nearest, d.argmin(axis=1))
    assert res.radii[-1] == pytest.approx(d.min(axis=1).max(), rel=1e-5)


def test_torch_path_gives_the_same_picks() -> None:
    pytest.importorskip("torch")
    for x in (
        np.random.default_rng(10).standard_normal((800, 20)).astype(np.float32),
        clustered(800, 20, 10, seed=11),
    ):
        a = kcenter_greedy(x, 120, seed=4, backend="numpy")
        b = kcenter_greedy(x, 120, seed=4, backend="torch", device="cpu")
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.radii, b.radii, rtol=1e-4)
        np.testing.assert_array_equal(a.nearest, b.nearest)
