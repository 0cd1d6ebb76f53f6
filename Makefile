# Two commands: `make run` (local stack with demo data) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PROFILE ?= quick
export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test lint bench clean venv browser

venv: $(STAMP)

$(STAMP): pyproject.toml layers/deps/requirements.txt
	@test -n "$(PYTHON)" || { echo "need python3.11 (or python3 >= 3.11) on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing pinned dependencies into $(VENV) (first run takes about a minute)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@echo "==> building the functions' dependency layer as sam build lays it out (.local/layers)"
	@$(BIN)/python -m infra.layers
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/timeline up $(ARGS)

# Push, pull and hybrid fan-out side by side on the local stack: bench/results/ (JSON, PNG plots).
bench: $(STAMP)
	$(BIN)/python -m bench run --profile $(PROFILE)

lint: $(STAMP)
	@echo "==> ruff check"
	@$(BIN)/ruff check --quiet infra functions layers tests bench
	@echo "==> cfn-lint template.yaml"
	@$(BIN)/cfn-lint template.yaml
	@echo "==> sam validate --lint"
	@SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template-file template.yaml --region $(AWS_REGION)

# The web client's e2e test drives Debian's headless Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing Debian's chromium and chromium-driver (tests/e2e/test_web_client.py)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "==> tests/e2e/test_web_client.py needs Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver"; \
	  fi; }

test: lint browser
	@echo "==> pytest"
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .aws-sam
