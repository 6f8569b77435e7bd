# mle-archetypes: every command a user types. `make` alone lists them.
# `make test` and `make demo` work as the first command on a new machine: they set up .venv first.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-lock
# Spark's classes for its JVMs to map at start (shared.spark.CLASS_ARCHIVE; about 2.5 s a JVM).
SPARK_CLASSES := $(VENV)/share/marquee/spark-classes.jsa
PIP_VERSION := 26.3

# Spark's Python workers must run the venv's interpreter, not whatever `python3` is on PATH.
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))

.PHONY: help setup java lock test lint format bench demo demo-fullstack demo-data airflow demo-model demo-infra world models serve app mlflow-ui notebooks s3 clean exercises exercise-start exercise-check exercise-solution exercise-reset exercises-verify

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) java $(SPARK_CLASSES) ## create .venv from requirements.lock (a no-op when it is up to date)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the locked dependencies into $(VENV) (a few minutes the first time)"
	@$(PY) -m pip install --quiet --disable-pip-version-check "pip==$(PIP_VERSION)"
	@$(PY) -m pip install --quiet -r requirements.lock
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(SPARK_CLASSES): $(STAMP)
	@echo "writing Spark's class archive (a Spark job, about 30 s)"
	@$(PY) -m shared.spark_classes

java: ## check that Java 17+ is installed (Spark needs it)
	@scripts/check_java.sh

lock: ## re-resolve requirements.in and rewrite requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet "pip==$(PIP_VERSION)"
	@$(PY) -m pip install --quiet -r requirements.in
	@{ echo "# Made by 'make lock' from requirements.in. Do not edit by hand."; \
	   $(PY) -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > requirements.lock
	@echo "wrote requirements.lock ($$(grep -c '==' requirements.lock) pins)"

test: setup ## run the test suite
	@$(PY) -m pytest

lint: setup ## ruff (lint and format check) and the import contract between the archetypes
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports

format: setup ## rewrite the code in ruff's format and apply its safe fixes
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: setup models ## run the benchmarks; writes reports/bench.json and reports/bench.md
	@$(PY) -m benchmarks

demo: demo-fullstack ## the main job: the whole loop (same as demo-fullstack)

demo-fullstack: setup ## the full-stack loop: 3 days of data, models, serving and app visitors (SERVE=1 keeps the app up)
	@$(PY) -m fullstack_mle.demo $(if $(SERVE),--serve,)

world: setup ## generate the Marquee world (small preset, 7 days) and print its summary
	@$(PY) -m shared.dataset generate --preset small --days 7 --force --report reports/world.json

ORCHESTRATOR ?= airflow
demo-data: setup ## the data MLE: 7 days through the pipeline, a gate tripping, a re-run (ORCHESTRATOR=airflow|stepfunctions)
	@$(PY) -m data_mle.demo --orchestrator $(ORCHESTRATOR)

airflow: setup ## demo-data's week under Airflow's real scheduler; its UI stays up until Ctrl-C
	@$(PY) -m data_mle.demo --orchestrator scheduler --serve

demo-model: setup ## the applied scientist: three notebooks under papermill, HTML report, model table
	@$(PY) -m model_mle.demo

demo-infra: setup models ## the infra MLE: the ranking service and the batch job, measured side by side
	@$(PY) -m infra_mle.demo

models: setup ## export the small preset's ad-break and home-row models (model_mle), if missing
	@for s in ad_break home_row; do \
		$(PY) -m model_mle.train --surface $$s --preset small --export --if-missing || exit 1; \
	done

serve: setup ## run the ranking service on 127.0.0.1:8000 (settings: MARQUEE_SERVE_*)
	@$(PY) -m infra_mle.serve

app: setup ## run the web app on 127.0.0.1:8080 against the service at MARQUEE_APP_SERVICE_URL
	@$(PY) -m fullstack_mle.serve

# The store of a lake: MARQUEE_LAKE_ROOT's (default lake/), or LAKE=<folder>. The loop runs in a
# lake of its own: `make mlflow-ui LAKE=lake/fullstack_demo` shows its model registry (promotions).
mlflow-ui: setup ## browse the tracked experiments at http://127.0.0.1:5000 (Ctrl-C stops it)
	@lake="$(if $(LAKE),$(abspath $(LAKE)),$${MARQUEE_LAKE_ROOT:-$(CURDIR)/lake})"; \
	$(VENV)/bin/mlflow ui --backend-store-uri "sqlite:///$$lake/mlflow/mlflow.db" \
		--host 127.0.0.1 --port 5000

notebooks: setup ## rebuild the paired .ipynb of every notebook from its .py source (jupytext)
	@$(VENV)/bin/jupytext --to ipynb --update model_mle/notebooks/*.py

s3: setup ## run a moto S3 server on 127.0.0.1 until Ctrl-C, printing the exports to use it
	@$(PY) -m shared.s3 serve

clean: ## remove the lake and the reports (keeps .venv)
	rm -rf lake reports

# The workshop: exercises/<id>/ holds each exercise's README and manifest; docs/WORKSHOP.md the agenda.
exercises: setup ## list the workshop exercises (id, archetype, minutes, title)
	@$(PY) -m workshop list

exercise-start: setup ## start an exercise on its own branch: EX=data-1
	@test -n "$(EX)" || { echo 'name the exercise: make exercise-start EX=data-1 (make exercises lists them)'; exit 2; }
	@$(PY) -m workshop start $(EX)

exercise-check: setup ## run an exercise's checks, with hints and your figure: EX=data-1
	@test -n "$(EX)" || { echo 'name the exercise: make exercise-check EX=data-1 (make exercises lists them)'; exit 2; }
	@$(PY) -m workshop check $(EX)

exercise-solution: setup ## show an exercise's reference solution as a diff: EX=data-1
	@test -n "$(EX)" || { echo 'name the exercise: make exercise-solution EX=data-1 (make exercises lists them)'; exit 2; }
	@$(PY) -m workshop solution $(EX)

exercise-reset: setup ## back to main (refuses while work is uncommitted)
	@$(PY) -m workshop reset

exercises-verify: setup ## prove every exercise fails on its starter and passes on its solution (EX=<id> for one)
	@$(PY) -m workshop verify $(EX)
