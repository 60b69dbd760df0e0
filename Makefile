# Two commands on a fresh clone: `make demo` and `make test`.
# Each first creates/verifies its virtualenv(s) (tools/setup_env.sh):
# .venv holds the current stack (torch 2.13 CPU, numpy 2), .venv-torch2.1
# the mainstream GPU users' stack (torch 2.1, numpy 1.26); `make test` runs
# the whole suite on both (requirements/stack-*.txt).
PY := .venv/bin/python
PY21 := .venv-torch2.1/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: env env-torch2.1 demo demo-seg lint test test-current test-torch2.1
env:
	@bash tools/setup_env.sh current

env-torch2.1:
	@bash tools/setup_env.sh torch2.1

demo: env
	@bash tools/demo/det_demo.sh

demo-seg: env
	@bash tools/demo/seg_demo.sh

# Style (setup.cfg) and the oldest Python the code claims (setup.py): once,
# not per stack.
SRC := fasternet_mm tools tests configs setup.py
lint: env
	@echo "== lint: flake8, isort, yapf, vermin (Python >= 3.8)"
	@$(PY) -m flake8 $(SRC)
	@$(PY) -m isort --check-only --diff $(SRC)
	@$(PY) -m yapf --diff --recursive $(SRC)
	@.venv/bin/vermin --target=3.8- --no-tips --violations --quiet fasternet_mm tools tests setup.py

# End-to-end runs of the tools (marker e2e, pytest.ini) run on one stack,
# the torch 2.1 one; `make test-current E2E=1` runs them here too.
E2E ?=
test-current: env
	@echo "== test suite on the current stack (.venv)$(if $(E2E),, without e2e)"
	@$(PY) -m pytest tests $(if $(E2E),,-m "not e2e")

test-torch2.1: env-torch2.1
	@echo "== test suite on the torch 2.1 stack (.venv-torch2.1)"
	@$(PY21) -m pytest tests

test: lint test-torch2.1 test-current
