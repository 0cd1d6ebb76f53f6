# Two commands: `make run` (local stack with demo data) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PROFILE ?= quick
export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= us-east-1

# checkov has a virtualenv of its own: it pins a boto3 that conflicts with the project's.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: run test unit lint typecheck scan bench soak clean venv browser

venv: $(STAMP)

$(STAMP): pyproject.toml layers/deps/requirements.txt
	@test -n "$(PYTHON)" || { echo "need python3.11 (or python3 >= 3.11) on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing pinned dependencies into $(VENV) (first run takes about a minute)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@echo "==> building the functions' dependency layer as sam build lays it out (.local/layers)"
	@$(BIN)/python -m infra.runtime.layers
	@touch $(STAMP)

# Ctrl-C stops the stack cleanly and `make run` exits 0: infra/console/foreground.py gives the
# stack the terminal, so the Ctrl-C is the stack's alone (make would otherwise die of it: 130).
run: $(STAMP)
	$(BIN)/python -m infra.console.foreground $(BIN)/timeline up $(ARGS)

# Push, pull and hybrid fan-out side by side on the local stack: bench/results/ (JSON, PNG plots).
bench: $(STAMP)
	$(BIN)/python -m bench run --profile $(PROFILE)

# The chaos soak (issue 24): 10 minutes of Twitter-shaped load on the local stack while faults
# strike, then every timeline, post and counter checked: bench/results/soak.json. SEED replays one.
SEED ?= 24
SOAK_PROFILE ?= long
soak: $(STAMP)
	$(BIN)/python -m bench.soak --profile $(SOAK_PROFILE) --seed $(SEED)

lint: $(STAMP)
	@echo "==> ruff check"
	@$(BIN)/ruff check --quiet infra functions layers tests bench
	@echo "==> lint-imports (the house rules: pyproject.toml [tool.importlinter])"
	@PYTHONPATH=layers/timeline/python $(BIN)/lint-imports --no-cache --no-logo
	@echo "==> mypy --strict layers/timeline/python/timeline"
	@$(BIN)/mypy
	@echo "==> cfn-lint template.yaml"
	@$(BIN)/cfn-lint template.yaml
	@echo "==> sam validate --lint"
	@SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template-file template.yaml --region $(AWS_REGION)

# mypy --strict over the domain layer (layers/timeline/python/timeline): [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	@echo "==> mypy (strict) layers/timeline/python/timeline"
	@$(BIN)/mypy

$(CHECKOV_STAMP):
	@test -n "$(PYTHON)" || { echo "need python3.11 (or python3 >= 3.11) on PATH"; exit 1; }
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@echo "==> installing checkov $(CHECKOV_VERSION) into $(CHECKOV_VENV) (first run takes about a minute)"
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	@touch $@

# The security scanner a peer runs (issue 22): every check passes, or template.yaml skips it on
# the resource (Metadata: checkov: skip) with the reason. Any failed check fails the target.
scan: $(CHECKOV_STAMP)
	@echo "==> checkov template.yaml"
	@$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

# The web client's e2e test drives Debian's headless Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing Debian's chromium and chromium-driver (tests/e2e/test_web_client.py)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "==> tests/e2e/test_web_client.py needs Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver"; \
	  fi; }

# The inner loop: the unit tier needs no emulator (pure functions and rules), well under a minute.
unit: $(STAMP)
	@$(BIN)/python -m pytest tests/unit -q $(PYTEST_ARGS)

# Every tier. First the in-process ones (unit, functional, and the runtime's and bench's tests
# on moto's in-process mock), a worker per core (at most four), a file to a worker; then, in a
# process of their own, the tests on moto's HTTP server and real processes and ports (marked
# `server`: the runtime's pollers and workers, the bench's tiny run, the soak) and end to end.
test: lint scan browser
	@echo "==> pytest tests/unit tests/functional tests/runtime tests/bench, in-process (a worker per core)"
	@$(BIN)/python -m pytest tests/unit tests/functional tests/runtime tests/bench -m "not server and not e2e" \
	  -n auto --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)
	@echo "==> pytest tests/runtime tests/bench (moto server, real processes) and tests/e2e"
	@$(BIN)/python -m pytest tests/runtime tests/bench tests/e2e -m "server or e2e" $(PYTEST_ARGS)
