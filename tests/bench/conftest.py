"""The benchmark's tests: its model and plots (no emulator), and, marked `server`, the tiny
profile end to end and the chaos soak's short run (their own embedded emulators)."""

from tests.support.moto_server import aws_env, deployed_stack, fixture_spec, journal, moto_endpoint  # noqa: F401 (fixtures)
