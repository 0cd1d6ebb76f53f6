"""The emulator's fixtures, defined once for every tier (a session fixture imported into two
conftest files would be two fixtures, and moto's state is one): `aws`, `h` and `clock` on
moto's in-process mock (tests/support/moto_inprocess.py); `moto_endpoint`, `deployed_stack`,
`fixture_spec` and `journal` on moto's HTTP server (tests/support/moto_server.py). The two never
share a process: tests using the server are marked `server` (see the Makefile's test target).
tests/unit overrides the emulator's fixtures with a failure: that tier runs without one."""

from tests.support.moto_inprocess import aws, clock, h  # noqa: F401 (fixtures)
from tests.support.moto_server import aws_env, deployed_stack, fixture_spec, journal, moto_endpoint  # noqa: F401
