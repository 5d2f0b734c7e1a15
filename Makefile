# Gerbang — one Makefile for set-up, running, testing and measuring.
#   make run    everything locally (Kafka, Redis, services, fake Graph API)
#   make test   every test, against a real Kafka broker and Redis
#   make bench  the load benchmark; last line is one JSON object
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
INFRA := deploy/local/infra.sh
PYTEST_ARGS ?=
# Another Kafka port (GERBANG_KAFKA_PORT, see deploy/local/README.md) moves the clients too.
# KAFKA_BROKERS=3: a three-broker KRaft cluster on loopback (ports +0, +2, +4 from
# GERBANG_KAFKA_PORT), topics replicated 3 times with min.insync.replicas=2.
KAFKA_BROKERS ?= 1
export KAFKA_BROKERS
ifeq ($(KAFKA_BROKERS),3)
KAFKA_FIRST_PORT := $(or $(GERBANG_KAFKA_PORT),9092)
export GERBANG_KAFKA_BOOTSTRAP ?= $(shell p=$(KAFKA_FIRST_PORT); echo 127.0.0.1:$$p,127.0.0.1:$$((p+2)),127.0.0.1:$$((p+4)))
export GERBANG_TOPIC_REPLICATION_FACTOR ?= 3
export GERBANG_TOPIC_MIN_INSYNC_REPLICAS ?= 2
else ifdef GERBANG_KAFKA_PORT
export GERBANG_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(GERBANG_KAFKA_PORT)
endif

.PHONY: help bootstrap infra-up infra-down infra-status topics run test test-unit bench eval eval-dev chaos profile lint format up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

bootstrap: ## install uv (if missing) and the workspace's Python packages
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || { echo "bootstrap: installing uv with pip"; python3 -m pip install --quiet --disable-pip-version-check uv; }
	@$$(command -v uv || echo $(UV)) sync --all-packages --quiet
	@echo "bootstrap: python packages ready (.venv)"

infra-up: ## start Kafka (KRaft, from Maven Central) and Redis on 127.0.0.1 (idempotent)
	@bash $(INFRA) up

infra-down: ## stop the Kafka and Redis that infra-up started
	@bash $(INFRA) down

infra-status: ## show what runs
	@bash $(INFRA) status

topics: bootstrap ## create the Kafka topics (re-runnable)
	@uv run --quiet gerbang topics create

run: bootstrap infra-up topics ## start everything locally; Ctrl-C stops it
	@uv run --quiet python deploy/local/run.py

test: bootstrap infra-up ## run every test against real Kafka and Redis (and headless Chromium)
	@bash deploy/local/ensure-chromium.sh
	@uv run --quiet pytest $(PYTEST_ARGS)

test-unit: bootstrap ## only the tests that need no Kafka or Redis
	@uv run --quiet pytest -m "not integration and not e2e" $(PYTEST_ARGS)

bench: bootstrap infra-up ## load benchmark (JSON on the last line; saved in bench/results/)
	@uv run --quiet python bench/run.py

eval: bootstrap ## understanding: dev and held-out test accuracy, per-intent table, confusions, multi-turn pass rates, targets; JSON last
	@uv run --quiet python -m gerbang.understanding.evaluate

eval-dev: bootstrap ## understanding while tuning: dev split, ask-rule sweep, calibration, multi-turn scenarios (never opens the held-out files)
	@uv run --quiet python -m gerbang.understanding.evaluate --split dev --errors

chaos: bootstrap infra-up ## fault runs (kills, outages, a broker of three): exactly once? one JSON line each
	@uv run --quiet python bench/chaos.py $(CHAOS_ARGS)

profile: bootstrap infra-up ## the benchmark with every service under cProfile: where the time goes
	@uv run --quiet python bench/run.py --profile --messages 1500

lint: bootstrap ## ruff, and mypy on libs/
	@uv run --quiet ruff check .
	@uv run --quiet ruff format --check .
	@uv run --quiet mypy libs/gerbang/src

format: bootstrap ## format the code
	@uv run --quiet ruff format .
	@uv run --quiet ruff check --fix .

COMPOSE_FILES := -f deploy/docker-compose.yml $(if $(filter 3,$(KAFKA_BROKERS)),-f deploy/docker-compose.kafka3.yml)

up: ## production-like stack with Docker Compose (needs a Docker engine; KAFKA_BROKERS=3 for three brokers)
	docker compose $(COMPOSE_FILES) --env-file deploy/.env up -d --build

down: ## stop the Docker Compose stack
	docker compose $(COMPOSE_FILES) --env-file deploy/.env down

clean: infra-down ## stop infrastructure and delete local data
	@bash $(INFRA) down --wipe
