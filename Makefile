# `make demo` and `make test` work on a machine that has only Python 3.11.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

VENDOR := src/ecobridge/web/static/vendor/.installed

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# MapLibre, ECharts and htmx from the npm registry, copied under web/static/vendor (not committed).
$(VENDOR): web-assets/package.json web-assets/package-lock.json web-assets/vendor.py \
		web-assets/echarts-entry.js
	cd web-assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	$(PY) web-assets/vendor.py
	touch $(VENDOR)

install: $(STAMP) $(VENDOR)

demo: $(STAMP) $(VENDOR)
	ECOBRIDGE_HOME=$${ECOBRIDGE_HOME:-var/demo} $(BIN)/ecobridge demo --serve --host 127.0.0.1 --port 8000

test: $(STAMP) $(VENDOR)
	scripts/ensure-chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

bench: $(STAMP) $(VENDOR)
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) var build *.egg-info web-assets/node_modules src/ecobridge/web/static/vendor
