# The two quickstart commands: `make demo` generates a project from the default answers and runs
# it; `make test` runs mlsd's own tests. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= build/demo

.PHONY: demo test lint bench sync clean

$(BIN)/mlsd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'
	touch $@

demo: $(BIN)/mlsd
	rm -rf $(DEMO_DIR)
	$(BIN)/mlsd new --no-input --set project_name="Demo Service" -o $(DEMO_DIR)
	$(MAKE) -C $(DEMO_DIR)/demo-service setup demo test

test: $(BIN)/mlsd
	$(BIN)/python -m pytest -n 2 --dist worksteal -q --durations=25

lint: $(BIN)/mlsd
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/python -m mlsd.templategen --check

bench: $(BIN)/mlsd
	$(BIN)/python bench/generate.py

sync: $(BIN)/mlsd
	$(BIN)/python -m mlsd.templategen

clean:
	rm -rf build dist $(VENV)
