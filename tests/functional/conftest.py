"""Functional tests: the handlers and the service against moto's in-process mock, on the stack
deployed from template.yaml (tests/support/moto_inprocess.py). `@pytest.mark.stack(Name="value")`
overrides template parameters per test."""
