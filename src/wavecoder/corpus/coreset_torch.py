"""The k-center greedy loop in torch, for `kcenter_greedy(..., backend="torch")`.

The plain loop (no pruning) on CPU or GPU: one fused matrix-vector product a step against
precomputed squared norms, O(N) state, and the picked index kept on the device so the GPU never
waits for the host (one transfer at the end). Makes the same picks as the numpy path, ties aside.
Not here: input preparation and the result type (`wavecoder.corpus.coreset`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def torch_device(device: str) -> Any:
    """ "auto": CUDA when available, else CPU; anything else as torch spells it."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def kcenter_torch(
    x: np.ndarray,
    k: int,
    first: int,
    *,
    device: str,
    threads: int | None,
    on_pick: Callable[[int], None] | None,
) -> tuple[np.ndarray, ...]:
    """(picks, squared radii, squared min distances, nearest rank) for prepared rows `x`."""
    import torch

    dev = torch_device(device)
    old_threads = torch.get_num_threads()
    if threads is not None and dev.type == "cpu":
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            return _loop(x, k, first, dev, on_pick)
    finally:
        torch.set_num_threads(old_threads)


def _loop(
    x: np.ndarray, k: int, first: int, dev: Any, on_pick: Callable[[int], None] | None
) -> tuple[np.ndarray, ...]:
    import torch

    xt = torch.from_numpy(x).to(dev)
    n2 = torch.from_numpy(np.einsum("ij,ij->i", x, x, dtype=np.float64)).float().to(dev)
    mind2 = torch.full((len(x),), float("inf"), device=dev)
    near = torch.full((len(x),), -1, dtype=torch.int64, device=dev)
    picks = torch.zeros(k, dtype=torch.int64, device=dev)
    radii2 = torch.zeros(k, device=dev)
    j = torch.tensor([first], device=dev)
    for m in range(k):
        picks[m : m + 1] = j
        d2 = torch.addmv(n2 + n2[j], xt, xt[j][0], alpha=-2.0).clamp_min_(0.0)
        better = d2 < mind2
        mind2 = torch.where(better, d2, mind2)
        near.masked_fill_(better, m)
        mind2.index_fill_(0, j, -1.0)  # picked: never picked again, even among duplicates
        j = torch.argmax(mind2).view(1)
        radii2[m : m + 1] = mind2.index_select(0, j)  # no host sync
        if on_pick is not None:
            on_pick(m)
    return (
        picks.cpu().numpy(),
        radii2.double().clamp_min(0.0).cpu().numpy(),
        mind2.clamp_min(0.0).cpu().numpy(),
        near.cpu().numpy(),
    )
