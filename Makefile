# Two commands on a fresh machine (see README):
#   make demo   -> environment + native build + the end-to-end job on the embedded defaults
#   make test   -> environment + native build + the test suite
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.cardionets-installed
NATIVE  := $(VENV)/.cardionets-native
CSRC    := $(shell find csrc -type f 2>/dev/null) CMakeLists.txt setup.py

.PHONY: demo test install native bench clean

demo: native
	$(VENV)/bin/cardionets demo

test: native
	$(PY) -m pytest

install: $(STAMP)

# The environment: torch pinned to the CPU wheel on this machine's disk, then the package's
# dependencies (with the test-only, export and Ray extras, so their tests run), then the package
# itself in editable mode (this builds cardionets._C).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=23.1" "setuptools>=77" wheel pybind11 "cmake>=3.18" ninja
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install --no-build-isolation -e ".[dev,export,distributed]"
	touch $(STAMP) $(NATIVE)

# Rebuild the extension when the C++ changes (incremental CMake build in build/).
native: $(NATIVE)
$(NATIVE): $(STAMP) $(CSRC)
	$(PY) -m pip install --no-build-isolation --no-deps -e . -q
	touch $(NATIVE)

# every benchmark in bench/ at quick sizes; results in bench/results/quick/*.md (not committed;
# `$(PY) -m bench.run_all --full` runs the long default sizes into bench/results/, see bench/run_all.py)
bench: native
	$(PY) -m bench.run_all

clean:
	rm -rf build $(VENV) cardionets/_C*.so
