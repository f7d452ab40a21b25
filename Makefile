# One entry point for set-up and the common tasks. Every target first makes sure the
# environment (.venv) exists and matches requirements.txt: a few seconds when it does.
PY := .venv/bin/python

.PHONY: env demo lint test test-fast data benchmark clean

env:
	@bash tools/setup_env.sh

demo: env
	$(PY) tools/demo.py

# Style first (seconds), then the suite: what .ci/run runs.
LINTED := mmclipjoint tools tests configs
lint: env
	$(PY) -m flake8 $(LINTED)
	$(PY) -m isort --check-only --diff $(LINTED)

test: lint
	$(PY) -m pytest -q tests

# The tests that neither train nor start processes: for the edit-test loop.
test-fast: lint
	$(PY) -m pytest -q -m "not slow" tests

data: env
	$(PY) tools/generate_dataset.py

clean:
	rm -rf work_dirs data
