# The two commands a user needs: `make run` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
export HF_HUB_DISABLE_TELEMETRY := 1

# Debian packages the browser and desktop tests need (Chromium, a virtual X server, Qt's xcb libraries).
APT_PACKAGES := chromium xvfb xdotool xauth libxcb-cursor0 libxkbcommon-x11-0 libnss3 libxcomposite1 \
	libxdamage1 libxrandr2 libxtst6 libasound2 libgbm1 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
	libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libegl1 libgl1 \
	libfontconfig1 libdbus-1-3 libxkbfile1 libxshmfence1 fonts-dejavu-core shellcheck

.PHONY: run test install sysdeps web web-check test-python test-web test-e2e lint bench clean

run: $(STAMP)
	$(VENV)/bin/invokeai --web $(ARGS)

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e ".[gui,test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

sysdeps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  elif sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "The tests need these Debian packages. Run:"; echo "  sudo apt-get install -y $$missing"; exit 1; fi; \
	fi

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

# Rebuild the UI bundle that ships inside the Python package.
web: web/node_modules/.installed
	cd web && npm run build

# CI: the committed bundle must be what the source builds.
web-check: web
	@git diff --quiet --exit-code -- invokeai_gui/frontend/dist && \
	  test -z "$$(git ls-files --others --exclude-standard invokeai_gui/frontend/dist)" || \
	  { echo "invokeai_gui/frontend/dist differs from what web/ builds: run 'make web' and commit the result."; git status --short invokeai_gui/frontend/dist | head; exit 1; }

test-web: web/node_modules/.installed
	cd web && npm test

# Two pytest processes (tests/conftest.py says which files share one); their torch threads wait
# passively, so one process's idle threads do not spin on the cores the other is using.
PYTEST_WORKERS ?= 2
test-python: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -q tests -n $(PYTEST_WORKERS) --durations=10 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check ldm invokeai_gui tests scripts bench
	$(VENV)/bin/lint-imports

test: sysdeps $(STAMP) web-check
	$(MAKE) lint
	$(MAKE) test-web
	$(MAKE) test-python
	$(MAKE) test-e2e

test-e2e: $(STAMP) web/node_modules/.installed
	cd web && INVOKEAI_PYTHON=$(abspath $(PY)) npm run e2e $(if $(E2E_WORKERS),-- --workers=$(E2E_WORKERS))

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) bench/run_all.py

clean:
	rm -rf $(VENV) web/node_modules
