# The README's commands. Everything a command needs is installed here, from
# PyPI into .venv - nothing by hand, nothing system-wide.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run worker retrain test fuzz check lint fmt train evaluate bench bench-accuracy bench-campaign bench-retrain bench-latency bench-request bench-capacity bench-http bench-gunicorn bench-outage test-wordpress test-cluster clean

# A stamp per requirements file: reinstall only when a pin changes.
$(BIN)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed (found $(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The browser tests drive Debian's Chromium (apt-get; as root, or through sudo).
$(BIN)/.chromium: $(BIN)/.dev
	command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium || \
		{ $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }; }
	touch $@

## run: set up, train the default model if there is none, serve on $PORT (8000)
run: $(BIN)/.runtime
	$(BIN)/python -m training train --promote --if-missing
	exec $(BIN)/gunicorn -c python:moderation.gunicorn_conf wsgi:app

## worker: the background worker alone (webhooks, spool replay); make run starts one itself
worker: $(BIN)/.runtime
	exec $(BIN)/python -m moderation worker

## test: set up and run the whole test suite (real Redis, real HTTP)
test: $(BIN)/.chromium
	$(BIN)/python -m pytest

## fuzz: schemathesis against the served OpenAPI document, FUZZ_EXAMPLES cases per operation
FUZZ_EXAMPLES ?= 1000
fuzz: $(BIN)/.dev
	$(BIN)/python -m tests.fuzz --examples $(FUZZ_EXAMPLES)

# WordPress (Debian ships it with its Akismet plugin), PHP and MariaDB's server
# binaries from Debian (apt-get; as root, or through sudo). The test serves
# WordPress with PHP's built-in server and runs a MariaDB of its own on a
# private socket: the Apache that the wordpress package pulls in goes unused,
# and no MariaDB service is installed.
WORDPRESS_PACKAGES := wordpress wordpress-theme-twentytwentythree php-cli php-mysql php-curl \
	mariadb-server-core mariadb-client-core
$(BIN)/.wordpress: $(BIN)/.dev
	{ test -f /usr/share/wordpress/wp-content/plugins/akismet/akismet.php \
		&& test -d /usr/share/wordpress/wp-content/themes/twentytwentythree \
		&& command -v php >/dev/null && command -v mariadb >/dev/null \
		&& test -x /usr/sbin/mariadbd; } || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q --no-install-recommends $(WORDPRESS_PACKAGES) || \
		{ $$SUDO apt-get update -q && \
		  $$SUDO apt-get install -y -q --no-install-recommends $(WORDPRESS_PACKAGES); }; }
	touch $@

## test-wordpress: the WordPress plugin: php -l, its signature test, then WordPress + Akismet end to end
test-wordpress: $(BIN)/.wordpress
	for f in integrations/wordpress/*.php integrations/wordpress/tests/*.php; do \
		php -l $$f >/dev/null || exit 1; done
	php integrations/wordpress/tests/signature.php
	$(BIN)/python -m tests.wordpress

## test-cluster: a Redis Cluster (3+3 nodes), the tests on it, two service nodes end to end, a primary killed
test-cluster: $(BIN)/.dev
	$(BIN)/python -m tests.cluster $(if $(QUICK),--quick)

## lint: formatting, lint and types, as CI checks them
lint: $(BIN)/.dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

## fmt: apply the formatter and the safe lint fixes
fmt: $(BIN)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## check: everything CI runs
check: lint test

## train: retrain the default model on the starter corpus (+ DATA=paths) and promote it
train: $(BIN)/.runtime
	$(BIN)/python -m training train --promote $(if $(DATA),--data $(DATA))

## retrain: the nightly job - drain labels, train a challenger, promote it if not worse
retrain: $(BIN)/.runtime
	$(BIN)/python -m training retrain

## evaluate: metrics of the current model on DATA (default: ../shared/data/youtube-spam)
evaluate: $(BIN)/.runtime
	$(BIN)/python -m training evaluate --data $(or $(DATA),../shared/data/youtube-spam)

# The peers the accuracy benchmark compares against: SpamBayes from PyPI,
# bogofilter from Debian (apt-get; as root, or through sudo).
$(BIN)/.bench: $(BIN)/.runtime bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	command -v bogofilter >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q bogofilter || \
		{ $$SUDO apt-get update -q && $$SUDO apt-get install -y -q bogofilter; }; }
	touch $@

## bench-accuracy: leave-one-video-out vs TF-IDF+LR, SpamBayes, bogofilter -> bench/RESULTS.md
bench-accuracy: $(BIN)/.bench
	$(BIN)/python -m bench.accuracy $(if $(DATA),--data $(DATA))

## bench-campaign: spam waves mixed into real ham, through the service -> bench/RESULTS.md
bench-campaign: $(BIN)/.runtime
	$(BIN)/python -m bench.campaign $(if $(DATA),--data $(DATA))

## bench-retrain: the nightly job on 100,000 labels: wall time, peak memory -> bench/RESULTS.md
bench-retrain: $(BIN)/.runtime
	$(BIN)/python -m bench.retrain $(if $(DATA),--data $(DATA))

## bench-latency: in-process scoring latency vs scikit-learn, SpamBayes, bogofilter -> bench/RESULTS.md
bench-latency: $(BIN)/.bench
	$(BIN)/python -m bench.latency $(if $(DATA),--data $(DATA))

# The HTTP load generator: Debian's wrk (apt-get; as root, or through sudo).
$(BIN)/.wrk: $(BIN)/.bench
	command -v wrk >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q wrk || \
		{ $$SUDO apt-get update -q && $$SUDO apt-get install -y -q wrk; }; }
	touch $@

## bench-http: checks over HTTP (wrk) vs a bare Flask endpoint, cold start, RSS -> bench/RESULTS.md
bench-http: $(BIN)/.wrk
	$(BIN)/python -m bench.http $(if $(DATA),--data $(DATA))

## bench-gunicorn: the gunicorn settings compared (how the README's were chosen) -> bench/RESULTS.md
bench-gunicorn: $(BIN)/.wrk
	$(BIN)/python -m bench.http --tune $(if $(DATA),--data $(DATA))

## bench-request: the check's request path profiled in-process (CPU per check, top functions) -> bench/RESULTS.md
bench-request: $(BIN)/.bench
	$(BIN)/python -m bench.request $(if $(DATA),--data $(DATA))

## bench-capacity: CPU and Redis commands per check over HTTP; checks/s per node core, per Redis shard -> bench/RESULTS.md
bench-capacity: $(BIN)/.wrk
	$(BIN)/python -m bench.capacity $(if $(DATA),--data $(DATA))

## bench-outage: Redis stopped and Akismet failing under load: answers, queue, circuit -> bench/RESULTS.md
bench-outage: $(BIN)/.runtime
	$(BIN)/python -m bench.outage $(if $(DATA),--data $(DATA))

## bench: the speed benchmarks, in-process and over HTTP
bench: bench-latency bench-request bench-http

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
