# madcell: `make demo` and `make test` each create/refresh the virtualenv, install, and run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_OUT ?= demo_out
export OMP_NUM_THREADS ?= 2

.PHONY: demo test venv benchmark clean

# The venv gets the optional SpatialData group too, so that its tests run in CI (a plain
# `pip install madcell` stays without it). The stamp is rebuilt whenever pyproject.toml changes (refresh), or when the venv is missing.
$(VENV)/.madcell-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,spatialdata]"
	touch $@

venv: $(VENV)/.madcell-installed

demo: venv
	$(VENV)/bin/madcell demo --out $(DEMO_OUT)

test: venv
	$(PY) -m pytest -q tests

benchmark: venv
	$(PY) benchmarks/prepare.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
