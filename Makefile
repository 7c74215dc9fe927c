# `make demo` and `make test` set everything up on a fresh machine and are quick afterwards.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
FASHION_MNIST := /usr/share/datasets/fashion-mnist
WALLPAPERS := /usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg
APT_DATA := dataset-fashion-mnist lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 ukui-wallpapers
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint clean data fuzz

# Fashion-MNIST for the embedded benchmark and the photographs of the codec corpus, from
# Debian (no download at run time).
data:
	@test -d $(FASHION_MNIST) -a -f $(WALLPAPERS) || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq $(APT_DATA); }

$(STAMP): pyproject.toml setup.py constraints.txt src/nodecode/bitstream/_rans.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP) data
	$(VENV)/bin/nodecode demo --out demo-out

# One test process per core, each on one thread: most tests are small ops that two threads
# do not speed up, so two processes finish the suite in about two thirds of the time.
test: $(STAMP) data
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n auto
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# Coverage-guided fuzzing of every untrusted input (atheris; tests/fuzz/fuzz.py): .ndc files
# (paper codecs; the shipped CompressAI hyperprior), checkpoints, images. FUZZ_SECONDS per
# target; RSS is capped at about twice a legitimate decode's; a failing input lands in
# .fuzz/TARGET/crashes/.
FUZZ_SECONDS ?= 1800
FUZZ_TARGETS ?= ndc compressai checkpoint image
fuzz: $(STAMP)
	rm -rf .fuzz
	set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p .fuzz/$$t/corpus .fuzz/$$t/crashes; cp tests/fuzz/corpus/$$t/* .fuzz/$$t/corpus/; \
		OMP_NUM_THREADS=1 $(PY) tests/fuzz/fuzz.py $$t -max_total_time=$(FUZZ_SECONDS) -timeout=2 \
			-rss_limit_mb=1700 -artifact_prefix=.fuzz/$$t/crashes/ -print_final_stats=1 \
			.fuzz/$$t/corpus; \
	done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) demo-out .pytest_cache .fuzz
