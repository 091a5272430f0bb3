# Two commands for a newcomer: `make demo` and `make test`.
# Both create .venv on first use (tools/setup_env.sh; quick when done).
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= data/digits_det
# the redundant pool of bursts (issue 18)
DATA_REDUNDANT ?= data/digits_redundant
# the backbone weights the digits configs load (tools/pretrain_backbone.py)
PRETRAINED_ARGS ?=
DEMO_CONFIG ?= configs/miaod_digits.py
DEMO_WORK_DIR ?= work_dirs/miaod_digits
PYTEST_ARGS ?=

.PHONY: venv test lint demo data pretrained data-redundant benchmark clean

venv:
	@bash tools/setup_env.sh

# Two pytest workers, a test file each at a time (module fixtures are built
# once), one torch thread each: the tiny models gain little from a second
# thread, and 2 workers x 2 threads would oversubscribe 2 cores.
# `make test PYTEST_JOBS=0` runs in one process.
PYTEST_JOBS ?= 2
test: venv pretrained
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(PYTEST_JOBS) --dist loadfile --durations=20 $(PYTEST_ARGS)

lint: venv
	$(PY) -m flake8 al_plugin tools tests configs projects benchmarks

data: venv
	$(PY) tools/make_digits_det.py --out $(DATA)

data-redundant: venv
	$(PY) tools/make_digits_redundant.py --out $(DATA_REDUNDANT)

# The tiny ResNet-18 pretrained on printed glyphs, built once into the cache
# outside the clone (a few minutes on 2 cores) and copied to
# data/pretrained/; seconds when up to date.
pretrained: venv
	$(PY) tools/pretrain_backbone.py $(PRETRAINED_ARGS)

demo: data pretrained
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)

# Every benchmark, then benchmarks/results.json (hours on a 2-core CPU; an
# interrupted run continues where it stopped). cost.py needs the demo's
# trained MI-AOD model.
benchmark: data data-redundant pretrained
	@test -f $(DEMO_WORK_DIR)/cycle_2.pth || $(MAKE) demo
	$(PY) benchmarks/selection_scale.py
	$(PY) benchmarks/cost.py --checkpoint $(DEMO_WORK_DIR)/cycle_2.pth
	$(PY) benchmarks/label_efficiency.py --pool digits
	$(PY) benchmarks/label_efficiency.py --pool redundant --data-root $(DATA_REDUNDANT)/VOCdevkit/
	$(PY) benchmarks/selection_content.py --work-dir work_dirs/benchmarks/label_efficiency_v2/digits
	$(PY) benchmarks/selection_content.py --work-dir work_dirs/benchmarks/label_efficiency_v2/redundant --data-root $(DATA_REDUNDANT)/VOCdevkit/ --out benchmarks/results/selection_content_redundant.json
	$(PY) benchmarks/collect.py

clean:
	rm -rf work_dirs .pytest_cache
