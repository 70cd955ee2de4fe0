# The two quick-start commands are `make demo` and `make test`; each sets everything up first.
.PHONY: setup demo test lint typecheck unit bench clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	@bash scripts/setup.sh

# The main job: a real agent on the embedded default model; a tool is called and the answer streams.
demo: setup
	@$(VENV)/bin/agentkit run --tools calc --timings "What is 2.5 + 4?"

lint:
	@$(VENV)/bin/ruff check .

typecheck:
	@$(VENV)/bin/mypy

unit:
	@$(PY) -m pytest -q

test: setup lint typecheck unit

bench: setup
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
