"""`python -m infra.console ...` is the `timeline` command (for a checkout without the console script)."""

from infra.console.app import main

main()
