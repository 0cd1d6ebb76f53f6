"""The local runtime's own tests (infra/runtime, infra/console): some on moto's in-process mock,
the ones marked `server` against moto's HTTP server and real worker processes, which make test
runs in a pytest process of their own (the two share moto's state: never in one process)."""
