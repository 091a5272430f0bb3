# Two commands for a newcomer: `make demo` and `make test`.
# Both create .venv on first use (tools/setup_env.sh; quick when done).
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= data/digits_det
DEMO_CONFIG ?= configs/miaod_digits.py
DEMO_WORK_DIR ?= work_dirs/miaod_digits
PYTEST_ARGS ?=

.PHONY: venv test lint demo data clean

venv:
	@bash tools/setup_env.sh

test: venv
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: venv
	$(PY) -m flake8 al_plugin tools tests configs projects benchmarks

data: venv
	$(PY) tools/make_digits_det.py --out $(DATA)

demo: data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)

clean:
	rm -rf work_dirs .pytest_cache
