"""A tiny, randomly initialised Llama-style model with a tokenizer trained on the spot.

Shared by the training, LLM-client and evaluation tests: ``build_tiny_llama(path)`` writes a
directory that ``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained`` load,
with no network and no downloaded weights. The tokenizer is a byte-level BPE trained on a small
built-in corpus of code and English, with ``<s>``, ``</s>``, ``<pad>`` and ``<unk>`` special tokens,
BOS prepended like Llama tokenizers do, and a simple chat template. Everything is deterministic
for a given seed. The weights are random, so generations are gibberish: tests check mechanics
(shapes, masking, reload, generate), never quality.

``tiny_llama_dir(tmp_path_factory)`` builds the model once per pytest session (per option set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"

# A plain chat template (no system-prompt magic) in the shape HF chat templates take.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

_CORPUS = [
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.",
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.",
    "### Instruction:\n### Input:\n### Response:\n",
    "def add(a, b):\n    return a + b\n",
    "def fib(n: int) -> int:\n    if n < 2:\n        return n\n"
    "    return fib(n - 1) + fib(n - 2)\n",
    "for i in range(10):\n    print(i)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n"
    "        self.items.append(x)\n",
    "import os\nimport sys\n\nif __name__ == '__main__':\n    main()\n",
    "function add(a, b) { return a + b; }\nconst xs = [1, 2, 3].map((x) => x * 2);\n",
    "public static int add(int a, int b) { return a + b; }\n",
    'func Add(a int, b int) int {\n\treturn a + b\n}\npackage main\nimport "fmt"\n',
    "<?php function add($a, $b) { return $a + $b; } ?>\n",
    "def add(a, b)\n  a + b\nend\n",
    "Write a function that returns the sum of two numbers.",
    "Summarize what the following code does. Fix the bug in the code. Translate to Java.",
    "The quick brown fox jumps over the lazy dog. Return the list sorted in ascending order.",
    "<|system|>\n<|user|>\n<|assistant|>\n",
]


def _train_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Repeat the corpus so merges are stable; training is deterministic for a fixed input.
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    # Like Llama / DeepSeek-Coder tokenizers: BOS is prepended when special tokens are added.
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=2048,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_llama(
    path: Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> Path:
    """Write a tiny random LlamaForCausalLM and its freshly trained tokenizer to ``path``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


_CACHE: dict[tuple[tuple[str, Any], ...], Path] = {}


def tiny_llama_dir(tmp_path_factory: Any, **options: Any) -> Path:
    """Build the tiny model once per pytest session (per distinct ``options``) and return its dir.

    Use from a session-scoped fixture::

        @pytest.fixture(scope="session")
        def tiny_llama(tmp_path_factory):
            return tiny_llama_dir(tmp_path_factory)

    Tests must not write into the returned directory (copy it first if they need to).
    """
    key = tuple(sorted(options.items()))
    if key not in _CACHE:
        _CACHE[key] = build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"), **options)
    return _CACHE[key]
