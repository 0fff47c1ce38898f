"""Who generated a samples file: the record every `eval generate` summary carries.

`generation_record` holds the prompt format, the sampling settings as sent, the model as the
client describes it (backend, name, revision, endpoints without credentials, the weights the
server reports, cache identity and file) and how many requests the cache answered. `eval
generate` also writes it to `generation.json` beside `samples.jsonl` (with the file's sha256),
so scoring that file later, even without the generating run's summary, records it too.
Not here: generating or scoring.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wavecoder.evals.generate import GenerateOptions


def generation_record(
    llm: object, gen: GenerateOptions, before: Counter[str], after: Counter[str]
) -> dict[str, Any]:
    """Who answered and how: model, endpoints, revision, the weights the server reports, the
    prompt format, sampling settings, and how many replies came from the cache."""
    describe = getattr(llm, "describe", None)
    model = describe() if callable(describe) else {"identity": getattr(llm, "identity", "")}
    sent, hits = after["requests"] - before["requests"], after["cache_hits"] - before["cache_hits"]
    return {
        **asdict(gen),
        "top_p": gen.top_p if gen.temperature > 0 else 1.0,  # what the requests carried
        "model": model,
        "requests": sent + hits,
        "cache_hits": hits,
    }


GENERATION = "generation.json"


def write_generation(out: Path, record: dict[str, Any]) -> None:
    """`generation.json` beside samples.jsonl: who generated it, for a later `eval score`."""
    from wavecoder.evals.benchmarks import sha256
    from wavecoder.store import atomic_path

    blob = {"samples_sha256": sha256(out / "samples.jsonl"), **record}
    with atomic_path(out / GENERATION) as tmp:
        tmp.write_text(json.dumps(blob, indent=2) + "\n", encoding="utf-8")


def generated_by(samples: Path) -> dict[str, Any]:
    """The generation record `eval generate` left beside this samples file, if it is for it."""
    from wavecoder.evals.benchmarks import sha256

    try:
        record = json.loads((samples.parent / GENERATION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or record.pop("samples_sha256", None) != sha256(samples):
        return {}  # another samples file, or this one edited since
    return {"generation": record}


def llm_counts(llm: object) -> Counter[str]:
    """Requests sent and cache hits so far, from the client's `llm.<role>.*` stats."""
    stats = getattr(llm, "stats", None)
    counts: Counter[str] = Counter()
    for key, value in (stats() if callable(stats) else {}).items():
        name = str(key).rsplit(".", 1)[-1]
        if name in ("requests", "cache_hits") and isinstance(value, int):
            counts[name] += value
    return counts
