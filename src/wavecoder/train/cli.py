"""``wavecoder train``: fine-tune a base model on instruction data with a recipe.

    wavecoder train -i DATA... -o OUTDIR --base-model ID_OR_DIR [--recipe NAME] [key=value ...]

The lead's ``wavecoder`` command delegates here (``configure`` adds the arguments, ``main`` runs).
Multi-GPU: ``accelerate launch --config_file configs/accelerate/fsdp.yaml -m wavecoder train ...``.
Errors the user can fix (bad data, unknown keys, QLoRA without a GPU) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wavecoder.config import ConfigError
from wavecoder.train.data import DataError
from wavecoder.train.formatting import TemplateError
from wavecoder.train.methods import MethodError
from wavecoder.train.settings import TrainConfig, load_config, recipe_names

EPILOG = """\
data formats (.json array, .jsonl, .parquet, or a hub dataset id owner/name[:split]):
  alpaca             {"instruction", "input" (optional), "output"} (+ optional id, task, language)
  messages           {"messages": [{"role", "content"}, ...]} ending with the assistant's reply
  prompt_completion  {"prompt", "completion"} used verbatim
overrides: any TrainConfig field, dotted for nested ones, e.g. method=lora lora.r=16 packing=true
recipes: {recipes}
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = "Supervised fine-tuning (TRL SFTTrainer) with the paper's recipes."
    parser.epilog = EPILOG.replace("{recipes}", ", ".join(recipe_names()))
    parser.add_argument("-i", "--input", nargs="+", required=True, metavar="DATA")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR")
    parser.add_argument("--base-model", required=True, metavar="ID_OR_DIR")
    parser.add_argument(
        "--recipe", default=None, help="bundled recipe name or YAML path (default: built-ins)"
    )
    parser.add_argument(
        "--restart", action="store_true", help="discard checkpoints in OUTDIR instead of resuming"
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="read and tokenize the data, print the counts, do not train",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", metavar="key=value")


def main(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.recipe, list(args.overrides))
        from wavecoder.preflight import check_data, check_model

        check_data(args.input, key="-i")  # before any reading, tokenizing or downloading
        check_model(args.base_model, key="--base-model")
        if args.prepare_only:
            print(json.dumps(_prepare(args, cfg), indent=2))
            return 0
        from wavecoder.train.sft import TrainJob, train

        job = TrainJob(
            inputs=tuple(args.input),
            out=args.output,
            base_model=args.base_model,
            cfg=cfg,
            recipe=args.recipe,
            quiet=args.quiet,
            restart=args.restart,
        )
        summary = train(job)
    except (ConfigError, DataError, TemplateError, MethodError) as exc:
        print(f"wavecoder train: error: {exc}", file=sys.stderr)
        return 2
    if summary.get("already_done"):
        print(
            f"wavecoder train: {args.output} already holds this finished run (global_step "
            f"{summary.get('global_step')}); nothing to do (--restart trains again)",
            file=sys.stderr,
        )
    keys = ("global_step", "final_loss", "saved", "examples")
    print(json.dumps({k: summary[k] for k in keys}, indent=2))
    return 0


def _prepare(args: argparse.Namespace, cfg: TrainConfig) -> dict[str, object]:
    from wavecoder.train.data import read_inputs
    from wavecoder.train.encode import encode_records
    from wavecoder.train.sft import load_tokenizer

    records, sources = read_inputs(args.input)
    tokenizer = load_tokenizer(args.base_model)
    encoded = encode_records(
        records,
        tokenizer,
        template=cfg.template,
        max_length=cfg.max_length,
    )
    return {"sources": [s.__dict__ for s in sources], "examples": encoded.counts}


def run_cli(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m wavecoder.train.cli``) until the top-level CLI wires it."""
    parser = argparse.ArgumentParser(prog="wavecoder train")
    configure(parser)
    return main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(run_cli())
