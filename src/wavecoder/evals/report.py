"""The few lines `wavecoder eval` prints about a run: what was scored, by whom, and the scores.

Everything printed is read from the summary dict (`summary.json`), so the screen and the file
never disagree: a PARTIAL line first when problems were left out, the scores (pass@k to 4
decimals, HumanEval+ base and plus), the counts by status, and who answered (model, revision,
endpoints, the weights the server reports, prompt format, sampling, requests the cache answered).
"""

from __future__ import annotations

from typing import Any


def format_summary(summary: dict[str, Any]) -> str:
    lines = []
    partial = summary.get("partial")
    total = summary.get("problems_total", summary.get("problems", 0))
    if partial:
        lines.append(
            f"PARTIAL: {summary.get('benchmark')}: scored {partial['problems_scored']} of "
            f"{total} problems; pass@k is over those only, not the benchmark"
        )
    head = f"{summary.get('benchmark')}: {summary.get('problems', 0)} of {total} problems"
    lines.append(f"{head}, {summary.get('samples', 0)} samples")
    lines.append(_scores("", summary))
    if isinstance(summary.get("base_tests"), dict):
        lines.append(_scores("base tests ", summary["base_tests"]))
    counts = summary.get("status_counts", {})
    lines.append("status: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for k, why in summary.get("skipped_k", {}).items():
        lines.append(f"{k}: not reported ({why})")
    if summary.get("generation"):
        lines.append(format_generation(summary["generation"]))
    elif summary.get("prompt_format"):
        lines.append(f"prompt format: {summary['prompt_format']}")
    if summary.get("resumed_results"):
        lines.append(
            f"resumed: {summary['resumed_results']} results reused from an earlier run of this "
            "command (delete results.jsonl to run them again)"
        )
    return "\n".join(line for line in lines if line)


def _scores(label: str, scores: dict[str, Any]) -> str:
    found = [(k, v) for k, v in scores.items() if k.startswith("pass@") and isinstance(v, float)]
    return "  ".join(f"{label}{k}: {v:.4f}" for k, v in found)


def format_generation(gen: dict[str, Any]) -> str:
    """One line on who generated the samples and how many replies the cache gave back."""
    if not gen:
        return ""
    model = gen.get("model", {})
    who = str(model.get("model") or model.get("identity", "?"))
    if model.get("revision"):
        who += f"@{model['revision']}"
    where = ", ".join(model.get("endpoints", [])) or model.get("backend", "")
    served = f", server weights {model['served_weights']}" if model.get("served_weights") else ""
    sampling = (
        f"n={gen.get('n')} temperature={gen.get('temperature')} top_p={gen.get('top_p')} "
        f"max_tokens={gen.get('max_tokens')}"
    )
    hits, total = gen.get("cache_hits", 0), gen.get("requests", 0)
    cache = f"{hits} of {total} requests answered from the cache"
    if model.get("cache") == "off":
        cache = "cache off"
    elif total and hits == total:
        cache += " (none generated now)"
    return (
        f"model: {who} ({where}{served}); prompt format {gen.get('prompt_format')}; "
        f"{sampling}; {cache}"
    )
