# One entry point for set-up and the common tasks. Every target first makes sure the
# environment (.venv) exists and matches requirements.txt: a few seconds when it does.
PY := .venv/bin/python

.PHONY: env demo lint test test-fast data benchmark clean

env:
	@bash tools/setup_env.sh

demo: env
	$(PY) tools/demo.py

# Style first (seconds), then the suite: what .ci/run runs.
LINTED := mmclipjoint tools tests configs benchmarks
lint: env
	$(PY) -m flake8 $(LINTED)
	$(PY) -m isort --check-only --diff $(LINTED)

# Most of the suite is tiny trainings in processes of their own: they run no faster on
# two threads than on one, and two processes of two threads each on two cores take
# twice as long as one of one thread (OpenMP threads wait on each other). So: one
# thread per process, pytest-xdist workers side by side (up to 4, one per core), whole
# test files per worker so that module fixtures are built once.
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n $(WORKERS) --dist loadfile

test: lint
	$(PYTEST) tests

# The tests that neither train nor start processes: for the edit-test loop.
test-fast: lint
	$(PYTEST) -m "not slow" tests

data: env
	$(PY) tools/generate_dataset.py

clean:
	rm -rf work_dirs data
