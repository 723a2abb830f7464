# The two commands the README promises: `make demo` and `make test`.
# Both set up everything on a fresh machine: Debian packages (when root), a venv, the project.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := iproute2 keepalived nginx-light openssh-server openssh-client tcpdump tmux procps curl nftables
STAMP := $(VENV)/.installed

.PHONY: demo test setup apt lint screenshots bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# Install the Debian packages the integration tests use, only when root and missing.
apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	  systemctl disable --now nginx keepalived ssh >/dev/null 2>&1 || true; \
	else echo "not root: skipping Debian packages (netns and interop tests will skip)"; fi

demo: setup
	$(BIN)/haconsole

test: apt setup
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check haconsole tests benchmarks
	$(BIN)/mypy

screenshots: setup
	$(BIN)/python -m haconsole.console.screenshots screenshots

bench: setup
	$(BIN)/python benchmarks/core.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
