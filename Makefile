# wavecoder: the two commands of the README, and their building blocks.
#   make demo   set up and run the pipeline on the embedded default corpus (Python stdlib)
#   make test   set up and run lint, type check and tests
#   make toolchains   (root) Debian/npm toolchains the evaluator compiles and runs code with
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck pytest toolchains bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, alone: on a CPU-only machine this picks the local CPU wheel
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0 -e ".[all,dev]"
	touch $(STAMP)

# without OPENAI_BASE_URL / OPENAI_API_KEY it stops before generate with the prompts and an estimate
demo: setup
	$(BIN)/wavecoder run configs/tiny.yaml
	$(BIN)/wavecoder show runs/tiny judge -n 2

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python -m pytest

test: lint typecheck pytest

toolchains:
	bash scripts/install_toolchains.sh

# performance scripts (not tests): each prints its figures next to a baseline run in the same script
bench: setup
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_dedup.py
	$(BIN)/python benchmarks/bench_kcenter.py --repeat 2
	$(BIN)/python benchmarks/bench_llm.py
	$(BIN)/python benchmarks/bench_instruct.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_eval.py
	$(BIN)/python benchmarks/bench_ray.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
