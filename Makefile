# Two commands on a fresh clone: `make demo` and `make test`.
# Each first creates/verifies the virtualenv at .venv (tools/setup_env.sh).
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: env demo demo-seg test
env:
	@bash tools/setup_env.sh

demo: env
	@bash tools/demo/det_demo.sh

demo-seg: env
	@bash tools/demo/seg_demo.sh

test: env
	@$(PY) -m pytest tests
