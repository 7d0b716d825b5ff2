# The two commands of the README:  `make demo`  and  `make test`.
# Both create the virtual environment (.venv) and install everything on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.bfrbench-installed
export NO_ALBUMENTATIONS_UPDATE := 1
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint venv sysdeps bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	# facexlib/insightface pull the GUI OpenCV into the same cv2/ folder: put the headless build back.
	$(PIP) install -q --force-reinstall --no-deps opencv-python-headless==5.0.0.93
	$(PIP) install -q --no-deps --no-build-isolation -e . -e tests/plugin_pkg
	touch $(STAMP)

venv: $(STAMP)

# Headless Chromium for the leaderboard page test (best effort: the test skips with a reason without it).
sysdeps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser test will skip"; }

demo: $(STAMP)
	$(VENV)/bin/bfrbench demo --out demo_out

test: $(STAMP) sysdeps lint
	$(PY) -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(VENV)/bin/ruff check bfrbench tests benchmarks setup.py
	$(VENV)/bin/mypy

bench: $(STAMP)
	for f in benchmarks/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf demo_out .pytest_cache
