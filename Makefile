# Two commands do all set-up on a fresh machine:
#   make demo   pretrain SimCLR on Fashion-MNIST on the CPU, then probe it (under 10 minutes on 2 cores)
#   make test   the whole test suite (what CI runs, after make lint)
# Also: make test-fast (unit tests only: no CLI runs, notebooks or training), make lint (ruff),
#   make pages (render docs/results pages from docs/results/data/*.jsonl), make notebooks (run the notebooks).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST_SYSTEM := /usr/share/datasets/fashion-mnist
# Where the demo reads Fashion-MNIST: Debian's package when installed, else torchvision's download in data/.
FMNIST = $(shell [ -f $(FMNIST_SYSTEM)/train-images-idx3-ubyte.gz ] && echo $(FMNIST_SYSTEM) || echo data)
DEMO_DIR ?= runs/demo

.PHONY: demo test test-fast lint setup data clean pages notebooks

setup: $(STAMP)

$(STAMP): pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,export]'
	touch $(STAMP)

# Fashion-MNIST, the embedded default dataset: Debian's dataset-fashion-mnist when apt is usable,
# else torchvision's download into data/FashionMNIST/raw.
data: $(STAMP)
	@if [ -f $(FMNIST_SYSTEM)/train-images-idx3-ubyte.gz ]; then \
		echo "Fashion-MNIST found in $(FMNIST_SYSTEM)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1; then \
		echo "Fashion-MNIST installed by apt into $(FMNIST_SYSTEM)"; \
	else \
		echo "apt unavailable: downloading Fashion-MNIST with torchvision into data/"; \
		$(PY) -c "from torchvision.datasets import FashionMNIST as F; F('data', train=True, download=True); F('data', train=False, download=True)"; \
	fi

# Pretrain, then probe h / head layers / z / random encoder / pixels. The run lives in $(DEMO_DIR)
# (checkpoints/, TensorBoard events, config.yaml, probe.md, probe.json); a new demo replaces it.
demo: data
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/simclr fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml \
		--data.init_args.root $(FMNIST) --trainer.logger.init_args.save_dir $(DEMO_DIR) \
		--trainer.logger.init_args.name "" --trainer.logger.init_args.version ""
	$(VENV)/bin/simclr probe --ckpt $(DEMO_DIR)/checkpoints/last.ckpt --root $(FMNIST) --out_dir $(DEMO_DIR)
	@echo "Run in $(DEMO_DIR): checkpoints/, probe.md, probe.json; logs: $(VENV)/bin/tensorboard --logdir $(DEMO_DIR)"

test: data
	SIMCLR_FASHION_MNIST=$(FMNIST) $(PY) -m pytest tests

test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow"

# The results pages' tables and figures from their committed data files (simclr.ablation.pages); the data
# files come from each page's own command (shown on the page), e.g. simclr compare ... --data_file FILE.
pages: $(STAMP)
	$(PY) -m simclr.ablation.pages render

# The four notebooks executed in place at the sizes their parameter cells set (on the CPU unless a GPU is
# there), each stored with its outputs and the machine and date of the run; CI runs them at a tiny size.
notebooks: data
	$(PY) notebooks/run_notebooks.py $(if $(filter $(FMNIST_SYSTEM),$(FMNIST)),,--root $(abspath $(FMNIST)))

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf runs lightning_logs .pytest_cache
