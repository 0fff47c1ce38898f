"""Training throughput: packing + SDPA against TRL's defaults (no packing, padded batches).

Both runs go through the project's trainer (``wavecoder.train.sft.build_trainer``) on the same
synthetic instruction-like examples (random token ids, lengths drawn like instruction data, ~40 %
prompt), in separate processes so each peak memory is its own. On a GPU the model is a randomly
initialised 1B-class Llama (TinyLlama shape, bf16; speed does not depend on the weights) and the
script also prints model-FLOPs utilisation:

    MFU = (6 * N + 12 * layers * hidden * mean_seq_len) * tokens_per_s / peak_bf16_flops

with N the parameter count (embeddings excluded) and the device's dense bf16 peak (989 TFLOP/s
for an H100 SXM; ``--peak-tflops`` for others). On CPU it runs the tiny test model and says so.

    python benchmarks/bench_train.py [--steps 20] [--seq-len 2048] [--model 1b|tiny]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

CONFIGS = {
    "packing+sdpa": ["packing=true", "attn_implementation=sdpa"],
    "trl-default (padding)": ["packing=false", "attn_implementation=sdpa"],
}
PEAKS_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def build_model(kind: str, path: Path) -> dict[str, int]:
    """A random model dir (tiny test tokenizer, whose ids fit any vocab) and its shape."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.helpers.tiny_model import build_tiny_llama

    build_tiny_llama(path)
    if kind == "1b":
        cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                          num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                          max_position_embeddings=4096, bos_token_id=1, eos_token_id=2,
                          pad_token_id=0)  # fmt: skip
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = LlamaForCausalLM(cfg).to(torch.bfloat16)  # type: ignore[arg-type]
        model.save_pretrained(path)
    cfg = LlamaConfig.from_pretrained(path)
    return {"layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size, "vocab": cfg.vocab_size}


def synthetic(n: int, seq_len: int, vocab: int, seed: int = 0) -> Any:
    import numpy as np

    from wavecoder.train.encode import IGNORE_INDEX, Encoded, EncodedSet

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(seq_len / 5), 0.6, n).astype(int), 32, seq_len)
    examples = []
    for length in lengths:
        ids = rng.integers(4, vocab, int(length)).tolist()
        cut = int(length * 0.4)
        examples.append(Encoded(ids, [IGNORE_INDEX] * cut + ids[cut:]))
    return EncodedSet(examples, [], {"out": n})


class Clock:
    """Trainer callback: wall time and real (non-pad) tokens after each optimizer step."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []

    def callback(self) -> Any:
        from transformers import TrainerCallback

        clock = self

        class _Cb(TrainerCallback):  # type: ignore[misc]
            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                import torch

                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                clock.marks.append((time.perf_counter(), int(state.num_input_tokens_seen)))

        return _Cb()


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from wavecoder.train.settings import batch_plan, load_config
    from wavecoder.train.sft import TrainJob, build_trainer, load_tokenizer

    gpu = torch.cuda.is_available()
    shape = json.loads(args.shape)
    overrides = [*CONFIGS[args.worker], f"max_steps={args.steps}", f"max_length={args.seq_len}",
                 f"per_device_batch_size={args.batch}", f"global_batch_size={args.batch}",
                 "save_steps=100000", "logging_steps=1000", "gradient_checkpointing=false",
                 "optim=adamw_torch_fused" if gpu else "optim=adamw_torch",
                 f"precision={'bf16' if gpu else 'fp32'}", "report_to=[]"]  # fmt: skip
    cfg = load_config(None, overrides)
    out = Path(tempfile.mkdtemp())
    job = TrainJob(inputs=(), out=out, base_model=args.model_dir, cfg=cfg, quiet=True)
    tokenizer = load_tokenizer(args.model_dir)
    encoded = synthetic(args.examples, args.seq_len, shape["vocab"])
    trainer = build_trainer(job, encoded, tokenizer, batch_plan(cfg, 1))
    trainer.args.include_num_input_tokens_seen = "non_padding"
    clock = Clock()
    trainer.add_callback(clock.callback())
    trainer.train()
    (t0, n0), (t1, n1) = clock.marks[args.warmup - 1], clock.marks[-1]
    n_params = sum(p.numel() for n, p in trainer.model.named_parameters() if "embed" not in n)
    result = {"tokens_per_s": (n1 - n0) / (t1 - t0), "params": n_params}
    if gpu:
        result["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        import resource

        result["peak_mem_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def mfu(res: dict[str, Any], shape: dict[str, int], mean_len: float, peak: float) -> float:
    per_token = 6 * res["params"] + 12 * shape["layers"] * shape["hidden"] * mean_len
    return per_token * res["tokens_per_s"] / (peak * 1e12)


def main() -> None:
    import torch
    import transformers

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    gpu = torch.cuda.is_available()
    p.add_argument("--model", choices=["1b", "tiny"], default="1b" if gpu else "tiny")
    p.add_argument("--steps", type=int, default=20 if gpu else 10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seq-len", type=int, default=2048 if gpu else 512)
    p.add_argument("--batch", type=int, default=8 if gpu else 4)
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--peak-tflops", type=float, default=0.0)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--shape", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return
    device = torch.cuda.get_device_name() if gpu else "cpu"
    print(f"device: {device}; torch {torch.__version__}; transformers {transformers.__version__}")
    if not gpu:
        print("no GPU: running the tiny test model on CPU (figures are for plumbing, not speed)")
    with tempfile.TemporaryDirectory() as tmp:
        shape = build_model(args.model, Path(tmp))
        results = {name: _run_worker(name, args, tmp, shape) for name in CONFIGS}
    mean_len = sum(len(e.input_ids) for e in synthetic(args.examples, args.seq_len, 100).examples)
    mean_len /= args.examples
    peak = args.peak_tflops or next((v for k, v in PEAKS_TFLOPS.items() if k in device), 0.0)
    print(f"model {args.model} ({shape}), seq_len {args.seq_len}, batch {args.batch}")
    print(f"{'config':<24}{'tokens/s':>12}{'peak GiB':>10}{'MFU':>8}")
    for name, res in results.items():
        util = f"{mfu(res, shape, mean_len, peak):.1%}" if gpu and peak else "-"
        print(f"{name:<24}{res['tokens_per_s']:>12.0f}{res['peak_mem_gib']:>10.2f}{util:>8}")
    base = results["trl-default (padding)"]["tokens_per_s"]
    print(f"packing+sdpa / trl-default: {results['packing+sdpa']['tokens_per_s'] / base:.2f}x")


def _run_worker(name: str, args: argparse.Namespace, tmp: str, shape: dict[str, int]) -> Any:
    cmd = [sys.executable, __file__, "--worker", name, "--model-dir", tmp, "--shape",
           json.dumps(shape), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--seq-len", str(args.seq_len), "--batch", str(args.batch),
           "--examples", str(args.examples)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(line[len("RESULT ") :])


if __name__ == "__main__":
    main()
