# Two commands for a newcomer: `make demo` and `make test`.
# Both create .venv on first use (tools/setup_env.sh; quick when done).
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= data/digits_det
DEMO_CONFIG ?= configs/miaod_digits.py
DEMO_WORK_DIR ?= work_dirs/miaod_digits
PYTEST_ARGS ?=

.PHONY: venv test lint demo data benchmark clean

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

# Every benchmark, then benchmarks/results.json (hours on a 2-core CPU; an
# interrupted run continues where it stopped). cost.py needs the demo's
# trained MI-AOD model.
benchmark: data
	@test -f $(DEMO_WORK_DIR)/cycle_2.pth || $(MAKE) demo
	$(PY) benchmarks/selection_scale.py
	$(PY) benchmarks/cost.py --checkpoint $(DEMO_WORK_DIR)/cycle_2.pth
	$(PY) benchmarks/label_efficiency.py
	$(PY) benchmarks/selection_content.py
	$(PY) benchmarks/collect.py

clean:
	rm -rf work_dirs .pytest_cache
