# The two commands a new user needs (see README):
#   make demo   - create .venv if needed (runtime dependencies only) and run the main job end to end on the
#                 embedded default
#   make test   - create .venv if needed (with the test extras) and run the test suite
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench env env-test clean
env:
	@bash tools/bootstrap.sh

env-test:
	@bash tools/bootstrap.sh test

demo: env
	$(VENV)/bin/neurochip demo -o out/demo $(ARGS)

# exhaustive tests (thousands of generated edge cases) each have a fast variant that CI runs.
# -n 2 --dist loadfile: two pytest-xdist workers (the CI machine has 2 cores; most tests are single-threaded
# Numba compiles and runs), each test file whole on one worker so module fixtures and per-file counters hold.
PYTEST_ARGS ?= -m "not exhaustive" -n 2 --dist loadfile

test: env-test
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: env
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache
