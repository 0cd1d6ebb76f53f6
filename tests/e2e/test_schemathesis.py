"""End-to-end: schemathesis against the running local stack's own OpenAPI document (issue 10).

The document is fetched from `GET /v1/openapi.json` of the session's stack (`local_stack`), so
this checks the contract clients actually get. Every operation in it is exercised with generated
requests, valid and invalid (schemathesis's examples, coverage and fuzzing phases; positive and
negative data), each sent with the real bearer token of a fresh account. Every response must:

- not be a server error (5xx),
- have a status code the operation documents,
- have the Content-Type the document gives for that status,
- match the documented response schema.

Generated values are random most of the time (a 404 is a fine answer when it is documented).
When a generated path parameter is well formed it is sometimes swapped for something real (the
caller's own handle, another account's handle, that account's post, the caller's pending
upload), and the auth bodies sometimes carry real credentials, so the success paths are reached
too. The swaps are hypothesis strategies, so they are as reproducible as the rest.

Bounded for `make test`: a fixed seed (the same requests every run), at most MAX_EXAMPLES
fuzzed cases per operation (the examples and coverage phases are deterministic and bounded by
the document: about 700 requests in all), no shrinking, no example database. Measured on the
2-core box with 27 operations: 3,127 requests in 36-58 s (depending on what else runs) when
every case is sent, 52-83 s for this file alone including the stack's start (which the other
e2e tests share under `make test`). A failing operation stops at its first failure, so a red
run is quicker (about 20 s).

A longer hunt (more fuzzing per operation, shrinking on, another seed):

    SCHEMATHESIS_MAX_EXAMPLES=500 SCHEMATHESIS_SEED=7 SCHEMATHESIS_SHRINK=1 \\
        .venv/bin/python -m pytest tests/e2e/test_schemathesis.py -p no:cacheprovider

(the pytest timeout grows with SCHEMATHESIS_MAX_EXAMPLES). Each operation is one pytest
subtest; add `-x` to stop at the first failing one.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Err
from schemathesis.pytest.lazy import get_all_tests

from tests.e2e.conftest import Api

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20260110"))
SHRINK = os.environ.get("SCHEMATHESIS_SHRINK", "") not in ("", "0")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(max(300, 3 * MAX_EXAMPLES + 120))]

# The checks of issue 10, named so that a new schemathesis default cannot silently change what
# `make test` asserts.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture()
def st_world(api: Api) -> dict:
    """The caller and real things for generated requests to hit now and then."""
    me, token = api.new_user("stcall")
    other, other_token = api.new_user("stother")
    tweet_id = api.post(other_token, "schemathesis target")
    upload = api.request("POST", "/v1/media", token, json={"content_type": "image/png", "content_length": 100})
    assert upload.status_code == 201, upload.text
    signed_in = api.request("POST", "/v1/auth/token", json={"handle": other, "password": Api.PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return {
        "token": token,
        "path": {"handle": [me, other], "tweet_id": [tweet_id], "media_id": [upload.json()["media_id"]]},
        "body": {
            "POST /v1/auth/token": {"handle": other, "password": Api.PASSWORD},
            "POST /v1/auth/refresh": {"refresh_token": signed_in.json().get("refresh_token", "")},
            "POST /v1/auth/signup": {"handle": other, "password": Api.PASSWORD, "display_name": "taken"},
            "POST /v1/auth/confirm": {"handle": other, "code": "000000"},
            "POST /v1/auth/confirm/resend": {"handle": other},
        },
    }


@pytest.fixture()
def api_schema(local_stack, st_world):
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        # Generation speed is not what this test is about; requests cross HTTP and Lambda workers.
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
        "base-url": local_stack.url,
        "request-timeout": 30,
        "generation": {
            "max-examples": MAX_EXAMPLES,  # per operation, fuzzing phase
            "no-shrink": not SHRINK,
            "database": "none",  # no replay of earlier failures: every run sends the same requests
        },
    })
    # schemathesis sets hypothesis's deadline=None itself (a request takes what it takes).
    schema = schemathesis.openapi.from_url(f"{local_stack.url}/v1/openapi.json", config=config, timeout=30)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters or context.operation is None:
            return st.just(path_parameters)
        options = [st.just(path_parameters)]
        for name, values in st_world["path"].items():
            value = path_parameters.get(name)
            # Well-formed values only: a malformed one is there to test the rejection.
            if isinstance(value, str) and _well_formed(context.operation, name, value):
                options += [st.just({**path_parameters, name: real}) for real in values]
        return st.one_of(*options)

    @schema.hook
    def flatmap_body(context, body):
        real = st_world["body"].get(context.operation.label) if context.operation is not None else None
        if real is None or not isinstance(body, dict):
            return st.just(body)
        return st.one_of(st.just(body), st.just(dict(real)))

    return schema


def _well_formed(operation, name: str, value: str) -> bool:
    for param in operation.path_parameters:
        if param.name == name:
            pattern = (param.definition.get("schema") or {}).get("pattern")
            return pattern is None or re.search(pattern, value) is not None
    return False


def check_case(case, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_api_conforms_to_its_openapi_document(api_schema, st_world, api, subtests):
    # This is what `schemathesis.pytest.from_fixture("api_schema")` with `@schema.parametrize()`
    # does, minus its renaming of the pytest node for reports: schemathesis 4.32.5 assigns
    # `Function._nodeid`, which pytest 9.2 no longer has (AttributeError before any request).
    # Same per-operation hypothesis tests (examples, coverage, fuzzing), one subtest each.
    load_all_checks()
    schema = api_schema.clone(test_function=check_case)
    tests = list(get_all_tests(schema=schema, test_func=check_case, settings=None, given_kwargs={}))
    assert len(tests) >= 20, f"the document lists only {len(tests)} operations"
    for result in tests:
        if isinstance(result, Err):  # an operation schemathesis cannot read: a broken document
            with subtests.test(msg=result.err().label):
                raise result.err()
            continue
        operation, test = result.ok()
        with subtests.test(msg=operation.label):
            try:
                test(token=st_world["token"])
            except FailureGroup as exc:
                raise as_reported_failure(exc) from None
    # Still signed in: nothing above revoked the caller's access (sign-out revokes refresh tokens).
    assert api.request("GET", "/v1/timeline", st_world["token"]).status_code == 200
