# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.eigencalc-installed

.PHONY: demo test test-fast crosscheck bench clean

$(STAMP): pyproject.toml setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m eigencalc demo

test: $(STAMP)
	$(PY) -m pytest tests eigencalc

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" tests eigencalc

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

# Peer check against neural-tangents stax in a separate venv (numpy<2, jax 0.4.30).
NT_VENV  := .venv-nt
NT_PY    := $(NT_VENV)/bin/python
NT_STAMP := $(NT_VENV)/.nt-installed

.PHONY: crosscheck

$(NT_STAMP): pyproject.toml setup.cfg
	test -x $(NT_PY) || $(PYTHON) -m venv $(NT_VENV)
	$(NT_PY) -m pip install --quiet --upgrade pip
	$(NT_PY) -m pip install --quiet jax==0.4.30 jaxlib==0.4.30 "numpy<2" ml_dtypes opt_einsum frozendict scipy pytest hypothesis sympy mpmath numba==0.60.0 tqdm python-flint
	$(NT_PY) -m pip install --quiet --no-deps neural-tangents==0.6.5
	$(NT_PY) -m pip install --quiet --no-deps -e .
	touch $(NT_STAMP)

crosscheck: $(NT_STAMP)
	$(NT_PY) -m pytest -p no:cacheprovider tests/test_crosscheck_neural_tangents.py
