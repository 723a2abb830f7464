# The two commands the README promises: `make demo` and `make test`.
# Both set up everything on a fresh machine: Debian packages (when root), a venv, the project.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := iproute2 keepalived nginx-light openssh-server openssh-client tcpdump tmux procps curl nftables prometheus
STAMP := $(VENV)/.installed

.PHONY: demo test setup apt lint screenshots bench clean keepalived-upstream

# keepalived 2.4.3 (upstream) as a second reference binary for the interop and parity
# tests, built from its release tarball into an ignored folder; skipped without it.
KEEPALIVED_UPSTREAM := 2.4.3
KEEPALIVED_TARBALL ?= ../shared/keepalived-$(KEEPALIVED_UPSTREAM).tar.xz
KA_DIR := $(CURDIR)/.build/keepalived-$(KEEPALIVED_UPSTREAM)
KA_BIN := $(KA_DIR)/sbin/keepalived
KA_STAMP := $(KA_DIR)/.built
KA_BUILD_DEPS := autoconf automake libtool pkg-config libssl-dev libnl-3-dev libnl-genl-3-dev \
	libmnl-dev build-essential

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
	  systemctl disable --now nginx keepalived ssh prometheus prometheus-node-exporter >/dev/null 2>&1 || true; \
	else echo "not root: skipping Debian packages (netns and interop tests will skip)"; fi

demo: setup
	$(BIN)/haconsole

test: apt setup keepalived-upstream
	@if [ -x $(KA_BIN) ] && [ -f $(KA_STAMP) ]; then \
	  export HACONSOLE_KEEPALIVED="$${HACONSOLE_KEEPALIVED:+$$HACONSOLE_KEEPALIVED:}$(KA_BIN)"; \
	  echo "HACONSOLE_KEEPALIVED=$$HACONSOLE_KEEPALIVED"; fi; \
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

# Build once (the stamp), only when the tarball is there; the tests that need this binary
# skip (or fail under HACONSOLE_REQUIRE_NETNS=1) when it is missing.
keepalived-upstream:
	@if [ -f $(KA_STAMP) ] && [ -x $(KA_BIN) ]; then \
	  echo "keepalived $(KEEPALIVED_UPSTREAM): already built ($(KA_BIN))"; \
	elif [ ! -f "$(KEEPALIVED_TARBALL)" ]; then \
	  echo "keepalived $(KEEPALIVED_UPSTREAM): no source tarball (KEEPALIVED_TARBALL) -" \
	       "not built; its interop and parity tests skip (fail under HACONSOLE_REQUIRE_NETNS=1)"; \
	else $(MAKE) --no-print-directory $(KA_STAMP); fi

$(KA_STAMP):
	@missing=""; for p in $(KA_BUILD_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "keepalived $(KEEPALIVED_UPSTREAM): missing build packages$$missing (not root) - not built"; \
	    exit 0; fi; fi; \
	set -e; rm -rf $(KA_DIR) .build/src; mkdir -p .build/src; \
	tar xf "$(KEEPALIVED_TARBALL)" -C .build/src; \
	cd .build/src/keepalived-$(KEEPALIVED_UPSTREAM); \
	echo "keepalived $(KEEPALIVED_UPSTREAM): building into $(KA_DIR)"; \
	./autogen.sh >build.log 2>&1 || { tail -30 build.log; exit 1; }; \
	./configure --prefix=$(KA_DIR) --enable-json --disable-lvs >>build.log 2>&1 \
	  || { tail -30 build.log; exit 1; }; \
	$(MAKE) -j$$(nproc) >>build.log 2>&1 || { tail -30 build.log; exit 1; }; \
	$(MAKE) install >>build.log 2>&1 || { tail -30 build.log; exit 1; }; \
	$(KA_BIN) --version 2>&1 | head -1; touch $(KA_STAMP)

lint: setup
	$(BIN)/ruff check haconsole tests benchmarks
	$(BIN)/mypy

screenshots: setup
	$(BIN)/python -m haconsole.console.screenshots screenshots

bench: setup
	$(BIN)/python benchmarks/core.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
