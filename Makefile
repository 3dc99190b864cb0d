# Wijkaanpak: the commands of CONTRACT.md "Commands". The local stack lives in stack/ (python -m stack).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# pip runs again only when requirements.lock is newer than this stamp.
STAMP := $(VENV)/.requirements.stamp

# `pytest`, `python -m bench` etc. import the repo's packages (shared, services, stack, ...).
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

# mypy fails on a folder without Python files; check the ones that have some.
MYPY_TARGETS := $(foreach d,shared services gateway stack tests bench,$(if $(strip $(shell find $(d) -name '*.py' -print -quit 2>/dev/null)),$(d)))

.PHONY: help venv up down status token test lint bench chaos k8s-check

help:
	@echo "make up | down | status | test [PYTEST_ARGS=..] | lint | bench | chaos | k8s-check"
	@echo "make -s token ROLE=<role> MUNICIPALITIES=GM0479,GM0453 [PARTNER=<partner id>] [SUB=<subject>]"

venv: $(STAMP)

$(PY):
	@echo "[stack] creating $(VENV) with $(PYTHON)" >&2
	$(PYTHON) -m venv $(VENV) >&2

# Output to stderr, so `make -s token` prints nothing but the token even on a fresh machine.
$(STAMP): requirements.lock | $(PY)
	@echo "[stack] installing Python packages from requirements.lock" >&2
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock >&2
	@touch $@

up: venv
	@$(PY) -m stack up

down: venv
	@$(PY) -m stack down

status: venv
	@$(PY) -m stack status

token: venv
	@test -n "$(ROLE)" || { echo "usage: make -s token ROLE=<role> MUNICIPALITIES=GM0479[,..] [PARTNER=..] [SUB=..]" >&2; exit 2; }
	@$(PY) -m stack token --role "$(ROLE)" --municipalities "$(MUNICIPALITIES)" \
		$(if $(PARTNER),--partner "$(PARTNER)") $(if $(SUB),--sub "$(SUB)")

# Real PostgreSQL and Kafka: the local ones (started when not running) unless DATABASE_URL and
# KAFKA_BOOTSTRAP_SERVERS are set; `stack env` exports the local ones for what is not set.
test: venv
	@$(PY) -m stack infra
	@eval "$$($(PY) -m stack env)" && $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict $(MYPY_TARGETS)

# The benchmarks use the local PostgreSQL and Kafka (started when not running) but start services
# of their own on free ports, with their own database, topics and groups. BENCH_ARGS=--quick: a smoke run.
bench: venv
	@$(PY) -m stack infra
	@eval "$$($(PY) -m stack env)" && $(PY) -m bench $(BENCH_ARGS)

# Fault injection on a PostgreSQL and a Kafka of its own (never the local stack). CHAOS_ARGS=--short.
chaos: venv
	$(PY) -m bench.chaos $(CHAOS_ARGS)

# deploy/k8s/check.py: renders every overlay with kustomize and validates it offline.
k8s-check: venv
	$(PY) -m deploy.k8s.check
