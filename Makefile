# `make test` and `make demo` are the two commands of the README; both create .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/data
STAMP := $(VENV)/.installed

.PHONY: venv test test-slow lint demo clean

venv: $(STAMP)

# torch is pinned to the local CPU wheel *before* the project, so the range in setup.py is already
# satisfied and pip fetches no CUDA build.
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,rospip]"
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check flowenedet_core flowenedet_ros test setup.py launch

test: venv lint
	$(BIN)/python -m pytest -q

# Real-data tests (minutes of CPU): ERFNet on RoadAnomaly21 / FS Static / Cityscapes.
test-slow: venv
	$(BIN)/python -m pytest -q -m slow

demo: venv
	$(BIN)/python -m flowenedet_core.cli.main demo --data-root $(SHARED)

clean:
	rm -rf $(VENV) runs
