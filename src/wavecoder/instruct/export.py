"""Stage `export`: the judge's accepted instances as a dataset, with its card and report.

Reads the coreset (`select`), the raw code it points at (`dedup`, the stage `select` reads),
the generator's `Example`s and rejections (`generate`) and the judge's `Verdict`s and rejections
(`judge`), the execution check's drops and agreement (`verify`, when it ran) and the benchmark
copies (`decontaminate`), and writes into its folder:

    data/alpaca.json     the paper's Alpaca records (instruction, input, output, id, task,
                         language, target_language, lineage) as one JSON array
    data/messages.jsonl  the same instances as chat messages (user, assistant), one a line
    data/alpaca.parquet  the Alpaca records as Parquet, with explicit features
    README.md            the dataset card (counts, models, settings, acceptance, licence)
    report/report.md     the funnel with every drop reason, mixes, acceptance by task and
                         rule, lengths, tokens and cost, decontamination and the leakage
                         report (the paper's Figure 3), and its PNG plots
    rejected.jsonl       accepted examples export dropped (exact repeats, missing code)
    stats.json           the funnel's numbers (`funnel.*`, `dropped.<stage>.<reason>`), the
                         mix, tokens and cost (`llm.*`), the files written and `train_file`,
                         the file the `train` stage reads
    funnel.json          the same numbers with the judge's answers by task and by rule, and
                         the generate/judge usage they came with

Every file loads with `datasets.load_dataset` and trains with `wavecoder train -i FILE`. With
`hub_repo` set, the card, data and report are pushed to that hub dataset repository (token from
`HF_TOKEN`). Not here: building rows (`export_rows`), files (`export_files`), the report
(`report`), the card (`card`), the hub (`hub`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wavecoder.config import ConfigError, to_data
from wavecoder.instruct.export_files import FILES, Format
from wavecoder.records import Code, Example, Execution, Rejected, Selected, Verdict
from wavecoder.store import StageDir, atomic_path

if TYPE_CHECKING:
    from wavecoder.instruct.export_rows import Funnel, Instance

log = logging.getLogger(__name__)

VERSION = 3  # 2: reads decontaminate's drops; 3: verify's
INPUTS: tuple[str, ...] = ("dedup", "select", "generate", "judge", "verify", "decontaminate")
SHARDABLE = False  # the funnel, the card and the exact-repeat check need every instance
_PUBLISH = {"fingerprint": False}


@dataclass(frozen=True)
class Config:
    """The `export:` section of an experiment YAML."""

    formats: tuple[Format, ...] = ("alpaca", "messages", "parquet")  # `train` reads the first
    system_prompt: str = ""  # messages: a system turn before the user turn ("" = none)
    dedup: bool = True  # drop exact repeats of (instruction, input, output); first one kept
    name: str = "wavecoder instruction data"  # the card's title
    license: str = "other"  # the card's licence (an SPDX id, or "other": see its licence note)
    report: bool = True  # report/report.md
    plots: bool = True  # its PNG plots (matplotlib)
    # Publishing does not change the files: outside the fingerprint, so setting it later does not
    # make the stages after export stale (rerun the push with --force export --to export).
    hub_repo: str = field(default="", metadata=_PUBLISH)  # owner/name (token: HF_TOKEN)
    hub_private: bool = field(default=True, metadata=_PUBLISH)  # a new repository is private
    hub_revision: str = field(default="", metadata=_PUBLISH)  # the branch to push to ("" = main)

    def __post_init__(self) -> None:
        if not self.formats:
            raise ValueError(
                "export.formats is empty: name at least one of alpaca, messages, parquet"
            )
        if len(set(self.formats)) != len(self.formats):
            raise ValueError(f"export.formats lists a format twice: {list(self.formats)}")


def preflight(cfg: Config) -> None:
    if cfg.hub_repo:
        from wavecoder.instruct.hub import check

        check(cfg.hub_repo)


def train_file(sd: StageDir) -> Path:
    """The data file of a finished export that `train` trains on (the first format written)."""
    stats = sd.read_json("stats") or {}
    name = stats.get("train_file")
    if not name or not (sd.path / name).is_file():
        raise ConfigError(
            f"{sd.path}: no exported data file (stats.json train_file); rerun export, or name "
            "the data with train.data=[FILE]"
        )
    return sd.path / str(name)


def read_inputs(
    inputs: dict[str, StageDir], dedup: bool = True
) -> tuple[list[Instance], list[Rejected], Funnel]:
    """The join of the upstream stages (see `export_rows.join`)."""
    from wavecoder.instruct.export_rows import join

    selected = list(inputs["select"].read_records("records", Selected))
    wanted = {s.code_id for s in selected}
    # dedup holds the whole corpus (a million snippets in the paper's run): keep only the picks
    codes = {c.id: c for c in inputs["dedup"].read_records("records", Code) if c.id in wanted}
    gen, judge, verify = inputs["generate"], inputs["judge"], inputs["verify"]
    ran = _verify_ran(verify)
    return join(
        selected=selected,
        codes=codes,
        examples=gen.read_records("records", Example),
        verdicts=judge.read_records("records", Verdict),
        generate_rejected=_rejected(gen),
        judge_rejected=_rejected(judge),
        verified=_rejected(verify) if ran else None,
        decontaminated=_rejected(inputs["decontaminate"]),
        executions={e.example_id: e for e in verify.read_records("records", Execution)}
        if ran
        else None,
        dedup=dedup,
    )


def _verify_ran(sd: StageDir) -> bool:
    return bool((sd.read_json("stats") or {}).get("enabled"))


def _rejected(sd: StageDir) -> list[Rejected]:
    return list(sd.read_rejected()) if sd.parts("rejected") else []


def settings(inputs: dict[str, StageDir], cfg: Config) -> dict[str, Any]:
    """The settings the upstream stages ran with, as their fingerprints recorded them, less
    endpoint URLs (a card may be public; an internal host name has no place in it)."""
    out: dict[str, Any] = {}
    for name in ("select", "generate", "judge"):
        fp = inputs[name].read_json("fingerprint", sharded=False) or {}
        if "config" in fp:
            out[name] = _without_urls(fp["config"].get(name, {}))
    out["export"] = {k: v for k, v in to_data(cfg).items() if not k.startswith("hub_")}
    return out


def _without_urls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_urls(v) for k, v in data.items() if "url" not in k.lower()}
    if isinstance(data, list):
        return [_without_urls(v) for v in data]
    return data


def run(ctx: Any) -> dict[str, Any]:
    from wavecoder.instruct.report import LLM_STAGES, write_report

    cfg: Config = ctx.cfg
    preflight(cfg)
    out: Path = ctx.out.path
    instances, dropped, funnel = read_inputs(ctx.inputs, cfg.dedup)
    if not instances:
        log.warning("export: no accepted instance to export (see report/report.md for why)")
    if funnel.not_selected:
        log.warning(
            "export: %d examples belong to code outside the coreset (a generate folder from "
            "another selection?); they are counted as funnel.not_selected, not exported",
            funnel.not_selected,
        )
    write_data(out, instances, cfg)
    ctx.out.write_rejected(dropped)
    usage = {s: (ctx.inputs[s].read_json("stats") or {}).get("usage") for s in LLM_STAGES}
    verify, agreement = ctx.inputs["verify"], None
    if _verify_ran(verify):
        agreement = verify.read_json("agreement", sharded=False)
        if verify_usage := (verify.read_json("stats") or {}).get("usage"):
            usage["verify"] = verify_usage  # the test writer's calls, when it asked for tests
    decon = ctx.inputs["decontaminate"].path  # its report.json and leakage.json, for both
    if cfg.report:
        write_report(
            out / "report",
            funnel=funnel,
            instances=instances,
            usage=usage,
            plots=cfg.plots,
            decontaminate=decon,
            agreement=agreement,
        )
    write_card(out, funnel, instances, cfg, settings(ctx.inputs, cfg), ctx.seed, decon)
    funnel_data = {**funnel.to_stats(), **funnel.acceptance(), "usage": usage}
    if agreement is not None:
        funnel_data["agreement"] = agreement
    ctx.out.write_json("funnel", funnel_data)
    result = stats(funnel, instances, cfg, usage)
    if cfg.hub_repo:
        result["hub"] = _push(out, cfg, ctx)
    return result


def write_data(out: Path, instances: Sequence[Instance], cfg: Config) -> None:
    from wavecoder.instruct.export_files import write_format
    from wavecoder.instruct.export_rows import alpaca_row, messages_row

    alpaca = [alpaca_row(i) for i in instances]
    for fmt in cfg.formats:
        chat = fmt == "messages"
        rows = [messages_row(i, cfg.system_prompt) for i in instances] if chat else alpaca
        write_format(fmt, out, rows)


def write_card(
    out: Path,
    funnel: Funnel,
    instances: Sequence[Instance],
    cfg: Config,
    upstream: dict[str, Any],
    seed: int,
    decontaminate: Path | None = None,
) -> None:
    from wavecoder.instruct import card
    from wavecoder.instruct.report_leakage import load

    info = card.CardInfo(
        name=cfg.name,
        license=cfg.license,
        formats=cfg.formats,
        settings=upstream,
        seed=seed,
        decontamination=load(decontaminate),
    )
    with atomic_path(out / "README.md") as tmp:
        tmp.write_text(card.render(funnel, instances, info), encoding="utf-8")


def stats(
    funnel: Funnel, instances: Sequence[Instance], cfg: Config, usage: dict[str, Any]
) -> dict[str, Any]:
    """The stage's stats: in/out, export's own drops, the funnel, the mix, tokens and cost."""
    from wavecoder.instruct.report import Mix

    mix = Mix.of(instances)
    out: dict[str, Any] = {"in": funnel.accepted, "out": funnel.exported}
    for reason, n in sorted(funnel.drops["export"].items()):
        out[f"rejected.{reason}"] = n
    out.update(funnel.to_stats())
    out["by_task"] = dict(mix.task.most_common())
    out["by_language"] = dict(mix.language.most_common())
    out["files"] = {fmt: FILES[fmt] for fmt in cfg.formats}
    out["train_file"] = FILES[cfg.formats[0]]
    out.update(usage_totals(usage, funnel.exported))
    return out


def usage_totals(usage: dict[str, Any], exported: int) -> dict[str, Any]:
    """Tokens and cost of generate + judge in all and per exported instance (cost: None when a
    stage has no price)."""
    parts = [u or {} for u in usage.values()]
    tokens = sum(
        int(u.get("prompt_tokens") or 0) + int(u.get("completion_tokens") or 0) for u in parts
    )
    costs = [u.get("cost_usd") for u in parts]
    cost = None if not parts or None in costs else round(sum(map(float, costs)), 6)  # type: ignore[arg-type]
    return {
        "llm.tokens": tokens,
        "llm.cost_usd": cost,
        "llm.tokens_per_instance": round(tokens / exported, 1) if exported else None,
        "llm.cost_usd_per_instance": round(cost / exported, 6)
        if cost is not None and exported
        else None,
    }


def _push(out: Path, cfg: Config, ctx: Any) -> str:
    from wavecoder.instruct.hub import push

    fp = ctx.out.read_json("fingerprint", sharded=False) or {}
    return push(
        out,
        repo_id=cfg.hub_repo,
        private=cfg.hub_private,
        revision=cfg.hub_revision or None,
        message=f"wavecoder export {fp.get('fingerprint', '')}".strip(),
    )
