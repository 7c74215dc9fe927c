# `make demo` and `make test` set everything up on a fresh machine and are quick afterwards.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
FASHION_MNIST := /usr/share/datasets/fashion-mnist
WALLPAPERS := /usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg
APT_DATA := dataset-fashion-mnist lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 ukui-wallpapers
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint clean data

# Fashion-MNIST for the embedded benchmark and the photographs of the codec corpus, from
# Debian (no download at run time).
data:
	@test -d $(FASHION_MNIST) -a -f $(WALLPAPERS) || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq $(APT_DATA); }

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP) data
	$(VENV)/bin/nodecode demo --out demo-out

test: $(STAMP) data
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

clean:
	rm -rf $(VENV) demo-out .pytest_cache
