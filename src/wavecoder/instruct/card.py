"""The dataset card: README.md of the export folder, the same file the hub shows.

YAML front matter the hub reads (licence, tags, size category, and one `configs` entry per
exported format, so `load_dataset(repo, "messages")` picks the right file and the three formats
never mix), then Markdown: what the data is, counts by task and language, the teacher and judge
models, acceptance rates, benchmark decontamination and leakage (`report_leakage`), the
generate/judge/select settings as the run recorded them, the
fields and their lineage, and a licence note built from the source code's licences. Not here:
the report's plots and cost tables (`report`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from wavecoder.instruct.export_files import FILES, Format
from wavecoder.instruct.export_rows import Funnel, Instance
from wavecoder.instruct.report import Mix, rate, table

if TYPE_CHECKING:
    from wavecoder.instruct.report_leakage import Decontamination

PAPER = "[WaveCoder](https://arxiv.org/abs/2312.14187)"


@dataclass(frozen=True)
class CardInfo:
    """What the card says beyond the instances: names, settings, the dataset licence."""

    name: str = "wavecoder instruction data"
    license: str = "other"
    formats: tuple[Format, ...] = ("alpaca", "messages", "parquet")
    settings: Mapping[str, Any] = field(default_factory=dict)  # stage -> its config section
    seed: int | None = None
    decontamination: Decontamination | None = None  # the decontaminate stage's reports


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


BUILDER: dict[Format, str] = {"alpaca": "json", "messages": "json", "parquet": "parquet"}


def hub_formats(formats: Sequence[Format]) -> list[Format]:
    """The formats the card declares as hub configs: those read by the same `datasets` builder
    as the first one. `load_dataset` picks one builder for a repository from its first config,
    so a JSON config and a Parquet config in one card cannot both load."""
    return [f for f in formats if BUILDER[f] == BUILDER[formats[0]]]


def configs(formats: Sequence[Format]) -> list[dict[str, Any]]:
    """One hub config per format of `hub_formats`; the first (train's file) is the default."""
    out = []
    for i, fmt in enumerate(hub_formats(formats)):
        entry: dict[str, Any] = {
            "config_name": "default" if i == 0 else fmt,
            "data_files": [{"split": "train", "path": FILES[fmt]}],
        }
        if i == 0:
            entry["default"] = True
        out.append(entry)
    return out


def load_lines(formats: Sequence[Format]) -> list[str]:
    """How to load each file, from the hub and from this folder."""
    names = {
        f: c["config_name"] for f, c in zip(hub_formats(formats), configs(formats), strict=True)
    }
    lines = ["```python", "from datasets import load_dataset", ""]
    for fmt in formats:
        if fmt in names:
            cfg = "" if names[fmt] == "default" else f'"{names[fmt]}", '
            lines.append(f'{fmt} = load_dataset("OWNER/NAME", {cfg}split="train")')
        else:  # not a config: a data file of its own
            lines.append(
                f'{fmt} = load_dataset("{BUILDER[fmt]}", split="train", '
                f'data_files="hf://datasets/OWNER/NAME/{FILES[fmt]}")'
            )
    first = formats[0]
    lines.append(
        f'local = load_dataset("{BUILDER[first]}", data_files="{FILES[first]}", split="train")'
    )
    return [*lines, "```"]


def front_matter(info: CardInfo, instances: Sequence[Instance]) -> str:
    n = len(instances)
    langs = sorted(Mix.of(instances).language)
    meta: dict[str, Any] = {"pretty_name": info.name, "license": info.license}
    if info.license == "other":  # the hub asks for a name and a link with "other"
        meta["license_name"] = "mixed-source-code-licences"
        meta["license_link"] = "README.md"  # the Licence section below lists them
    meta.update(
        {
            "language": ["en"],  # the prose; the code languages are in the tags and counts
            "task_categories": ["text-generation"],
            "tags": ["code", "instruction-tuning", "synthetic", "wavecoder", *langs],
            "size_categories": [size_category(n)],
            "configs": configs(info.formats),
        }
    )
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def counts_table(instances: Sequence[Instance]) -> list[str]:
    """Instances by task (rows) and language (columns), with totals."""
    cells: Counter[tuple[str, str]] = Counter(
        (i.example.task, i.example.language) for i in instances
    )
    mix = Mix.of(instances)
    langs = [lang for lang, _ in mix.language.most_common()]
    rows = [
        [task, *(str(cells[(task, lang)]) for lang in langs), str(mix.task[task])]
        for task, _ in mix.task.most_common()
    ]
    rows.append(["total", *(str(mix.language[lang]) for lang in langs), str(len(instances))])
    return table(["task", *langs, "total"], rows)


def models(instances: Sequence[Instance]) -> dict[str, Counter[str]]:
    return {
        "teacher (generator)": Counter(i.example.model or "unknown" for i in instances),
        "judge (discriminator)": Counter(i.verdict.model or "unknown" for i in instances),
        "prompt version": Counter(
            f"{i.example.task}: {i.example.prompt_version or '-'}" for i in instances
        ),
    }


def licence_note(instances: Sequence[Instance], info: CardInfo) -> list[str]:
    lic = Counter(i.code.license or "unknown" for i in instances)
    listed = ", ".join(f"{name} ({n})" for name, n in lic.most_common()) or "none"
    return [
        f"The card's `license: {info.license}` is the export setting `export.license`. Each "
        "instance is derived from one function of open-source code, named in its `lineage` "
        "(`repo`, `path`, `span`) with that code's licence in `lineage.license`. Licences of "
        f"the source code: {listed}. Instances whose source licence is unknown or restrictive "
        "may need to be filtered out before redistribution. The instructions and solutions were "
        "written by the teacher model: check its provider's terms on training models with its "
        "outputs.",
    ]


def render(funnel: Funnel, instances: Sequence[Instance], info: CardInfo) -> str:
    n = len(instances)
    lines = [front_matter(info, instances), f"# {info.name}", ""]
    lines += [
        f"Instruction data in the style of {PAPER}'s CodeOcean, made with wavecoder: {n} "
        f"instances generated from a k-center coreset of {funnel.selected} code snippets by an "
        "LLM generator and kept only when an LLM discriminator answered yes to every rule of "
        "the task. Counts, drop reasons, lengths and cost are in `report/report.md`.",
        "",
        "## Files",
        "",
    ]
    names = {
        f: c["config_name"]
        for f, c in zip(hub_formats(info.formats), configs(info.formats), strict=True)
    }
    files = [(names.get(f, "(file)"), f"`{FILES[f]}`", _shape(f)) for f in info.formats]
    lines += table(("hub config", "file", "shape"), files)
    lines += ["", *load_lines(info.formats)]
    lines += ["", "Each file also trains as it is: `wavecoder train -i FILE ...`.", ""]
    lines += ["## Counts by task and language", "", *counts_table(instances), ""]
    lines += ["## Models", ""]
    for role, counts in models(instances).items():
        lines.append(f"- {role}: " + ", ".join(f"`{m}` ({c})" for m, c in counts.most_common()))
    lines += ["", "## Acceptance", ""]
    rows = [
        (t, str(j), str(funnel.accepted_by_task[t]), rate(funnel.accepted_by_task[t], j))
        for t, j in sorted(funnel.judged_by_task.items())
    ]
    rows.append(
        ("all", str(funnel.judged), str(funnel.accepted), rate(funnel.accepted, funnel.judged))
    )
    lines += table(("task", "judged", "accepted", "rate"), rows)
    per = f"{n / funnel.selected:.2f}" if funnel.selected else "-"
    lines += [
        "",
        f"Yield: {n} exported instances from {funnel.selected} selected snippets "
        f"({per} a snippet).",
        "",
    ]
    if info.decontamination is not None:
        from wavecoder.instruct.report_leakage import card_lines

        lines += card_lines(info.decontamination)
    lines += ["## Settings", "", "```yaml"]
    settings = (
        {"seed": info.seed, **info.settings} if info.seed is not None else dict(info.settings)
    )
    lines += [yaml.safe_dump(settings, sort_keys=False).rstrip(), "```", ""]
    lines += ["## Fields", "", *FIELDS, ""]
    lines += ["## Licence", "", *licence_note(instances, info)]
    return "\n".join(lines) + "\n"


def _shape(fmt: Format) -> str:
    if fmt == "messages":
        return "`messages` (user, assistant) + lineage, JSON lines"
    kind = "JSON array" if fmt == "alpaca" else "Parquet"
    return f"Alpaca `instruction`, `input`, `output` + lineage, {kind}"


FIELDS = [
    "- `id`: the instance's id; `task`: summarize, generate, translate or repair; `language`: "
    "the source code's language; `target_language`: the translation target (else null).",
    "- `instruction`, `input`, `output`: the generator's instruction, information (empty for "
    "`<noinput>`) and solution; in `messages` the user turn is instruction, a blank line and "
    "the input.",
    "- `lineage`: `code_id`, `source`, `repo`, `path`, `span` (1-based lines), `license`, "
    "`func_name` of the raw code; `teacher_model`, `judge_model`, `prompt_version`, `round`; "
    "`verdict` (`overall`, `reasons`, `rules`: each rule's answer and reason); `meta`: task "
    "facts (for repair: the injected bug's kind, line and detail).",
]
