# Dimini Stack — the two commands a newcomer needs:
#   make dev    the whole stack with live reload: kind with Docker, the sandbox's real node without
#   make test   everything testable without Docker: lint, unit, sandbox, Postgres and browser tests
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
# mypy's cache outside the repository: a fresh clone (CI) checks in seconds instead of a minute.
MYPY_CACHE_DIR ?= $(HOME)/.cache/dimini-stack/mypy
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv lint test test-python test-frontend e2e sandbox sandbox-down sandbox-build manifests dev images publish bench

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: operator/pyproject.toml backend/pyproject.toml requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e operator -e backend -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create .venv with the operator, the backend and the test tools

lint: venv ## ruff and mypy (strict) over all Python
	ruff check .
	ruff format --check .
	mypy --cache-dir "$(MYPY_CACHE_DIR)" operator/dimini_operator backend/app sandbox images tests bench hack

test-python: venv sandbox-build ## pytest: unit, sandbox (Kubernetes) and Postgres tests
	pytest

test-frontend: ## ESLint, type-check, Vitest, next build and the Chromium end-to-end run
	@if [ -f frontend/package.json ]; then $(MAKE) -C frontend test; else echo "frontend: nothing yet"; fi

test: lint test-frontend test-python e2e ## everything testable here (what CI runs)

e2e: venv sandbox-build ## the whole stack on real pods: images, a real node, Traefik, the operator's chart, Dimini through the Ingress
	$(PY) -m images build
	pytest -m e2e tests/sandbox/test_sandbox_cleanup.py tests/sandbox/test_real_node.py tests/e2e

sandbox-build: ## build (or reuse) the control-plane binaries and the real node's policy engine; cold: several minutes
	@bash sandbox/build.sh >/dev/null
	@bash sandbox/build-netpol.sh >/dev/null

sandbox: venv sandbox-build ## start the local control plane; writes .sandbox/kubeconfig (REAL_NODE=1: also a real node)
	$(PY) -m sandbox up $(if $(REAL_NODE),--real-node)

sandbox-down: venv ## stop every sandbox process and remove its state
	$(PY) -m sandbox down

manifests: venv sandbox-build ## regenerate manifests/ (CRD, operator install) from their sources
	$(PY) hack/manifests.py generate

dev: venv ## tilt up: on kind with Docker; without Docker (Linux, root) on the sandbox's real node
	@bash hack/dev.sh

images: venv ## backend, frontend, operator, postgres images (buildah; cold ~10 min); loaded into the sandbox's containerd if it runs
	$(PY) -m images load --if-running

publish: venv ## push the four images, then the operator's chart with their digests, to REGISTRY=host:port[/prefix] (docs/images.md)
	$(PY) -m images.publish "$(REGISTRY)" $(if $(HELM),--helm "$(HELM)")

bench: venv ## the backend benches, briefly: every figure beside its floor and the ratio (asserts nothing)
	$(PY) bench/backend/run_bench.py --duration 3 --rounds 3 --clients 100 --events 3
	$(PY) bench/backend/graph_bench.py
