"""The local stack's defaults, shared by `python -m infra.console.up run` and every `timeline` command.

Standard library only: infra.console.up imports this, and `timeline doctor` must start even when the
virtualenv lacks a package.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

API_PORT = 3000
EMULATOR_PORT = 4566  # infra.runtime.emulator.DEFAULT_PORT (LocalStack's port)
HOST = "127.0.0.1"
LOCAL_API = f"http://{HOST}:{API_PORT}"
LOCAL_EMULATOR = f"http://{HOST}:{EMULATOR_PORT}"
STACK_NAME = "timeline-local"

DEMO_SEED = 7
DEMO_USERS = 200
DEMO_POSTS = 1500

# Where the functions' output goes (one file per function, one run each), unless --verbose.
LOG_DIR = ROOT / ".local" / "logs"
