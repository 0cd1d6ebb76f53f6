"""template.yaml is the truth: check the promises it makes, and that the api function
serves exactly the routes the template gives API Gateway."""

from __future__ import annotations

from infra.runtime import template as tpl


def test_every_template_route_is_documented_and_every_documented_route_is_in_the_template(h):
    """The OpenAPI document lists what the api function routes; API Gateway routes what the
    template lists. They must be the same set, or a route is unreachable or unserved."""
    template_routes = {(r.method, r.path) for r in tpl.routes(tpl.load_sam())}
    spec = h.request("GET", "/v1/openapi.json").body
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    # the document itself and its UI are served but not described in the document
    assert template_routes - documented == {("GET", "/v1/openapi.json"), ("GET", "/v1/docs")}
    assert documented <= template_routes


def test_the_document_says_which_routes_take_no_token_as_the_template_routes_them(h):
    """Given the routes template.yaml serves without the JWT authorizer (`Authorizer: NONE`),
    then exactly those operations of the OpenAPI document say `security: []` and document no
    401 of the authorizer's; every other one inherits the bearer scheme and documents its 401.
    Generated clients then send the token where API Gateway wants it, and only there."""
    spec = h.request("GET", "/v1/openapi.json").body
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                                                   "bearerFormat": "JWT"}
    public = {(r.method, r.path) for r in tpl.routes(tpl.load_sam()) if not r.authorized}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) in public:
                assert operation.get("security") == [], (method, path)
            else:
                assert "security" not in operation, (method, path)  # the document's bearerAuth
                assert "401" in operation["responses"], (method, path)
    documented_public = {(m.upper(), p) for p, ops in spec["paths"].items() for m, o in ops.items()
                         if o.get("security") == []}
    assert documented_public == public - {("GET", "/v1/openapi.json"), ("GET", "/v1/docs")}


def test_the_documents_password_pattern_is_the_user_pools_policy(h):
    """Given the user pool's PasswordPolicy in template.yaml (Cognito enforces it, 422
    weak_password), then the document's sign-up password says the same: its minimum length,
    and a lowercase letter and a digit exactly when the policy requires them (and no other
    requirement the pattern would leave unsaid)."""
    import re

    policy = tpl.load_sam()["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    password = h.request("GET", "/v1/openapi.json").body["components"]["schemas"]["SignUpRequest"][
        "properties"]["password"]
    assert password["minLength"] == policy["MinimumLength"]
    assert (policy["RequireLowercase"], policy["RequireNumbers"]) == (True, True)
    assert not policy["RequireUppercase"] and not policy["RequireSymbols"]
    documented = re.compile(password["pattern"])
    for candidate, meets in [("abcdefg1", True), ("1abcdefg", True), ("a\n1", True), ("abcdefgh", False),
                             ("12345678", False), ("ABCDEFG1", False), ("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e91", False)]:
        assert bool(documented.search(candidate)) == meets, candidate


def test_queue_visibility_is_at_least_six_consumer_timeouts_and_every_queue_has_a_dlq():
    sam = tpl.load_sam()
    functions = tpl.functions(sam)
    for queue, consumer in (("FanoutQueue", "FanoutWorkerFunction"), ("MediaQueue", "MediaProcessorFunction")):
        props = sam["Resources"][queue]["Properties"]
        assert props["VisibilityTimeout"] >= 6 * functions[consumer].timeout, queue
        assert props["RedrivePolicy"]["maxReceiveCount"] >= 3, queue


def test_every_event_source_reports_partial_failures_and_streams_bisect(h):
    by_function = {s.function: s for s in h.stack.event_sources}
    assert set(by_function) == {"FanoutDispatchFunction", "FanoutWorkerFunction", "MediaProcessorFunction"}
    assert all(s.report_failures for s in by_function.values())
    dispatch = by_function["FanoutDispatchFunction"]
    assert dispatch.bisect_on_error and dispatch.on_failure_arn


def test_health_openapi_and_docs_are_public(h):
    assert h.request("GET", "/v1/health").body == {"status": "ok"}
    spec = h.request("GET", "/v1/openapi.json").body
    assert spec["openapi"].startswith("3.")
    assert {"/v1/timeline", "/v1/tweets", "/v1/users/{handle}/follow"} <= set(spec["paths"])
    docs = h.request("GET", "/v1/docs")
    assert docs.status == 200 and "swagger" in str(docs.body).lower()


def test_given_a_fault_inside_the_service_then_500_json_without_internals_and_a_metric(h, monkeypatch, capsys):
    alice = h.sign_up("alice")

    def broken(*_args, **_kwargs):
        raise RuntimeError("TimelinesTable exploded at store/timelines.py:42")

    monkeypatch.setattr(h.services.reader, "home_timeline", broken)
    reply = h.home(alice)
    assert reply.status == 500
    assert reply.body == {"error": {"code": "internal_error",
                                    "message": "something went wrong on our side; try again", "details": None}}
    assert '"InternalErrors"' in capsys.readouterr().out  # the EMF line the alarm watches


def test_given_the_deps_layer_requirements_then_each_pin_is_the_one_the_tests_ran_with():
    # Given what the layer installs deployed (and the local workers import) and what the
    # development virtualenv was installed from
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    layer = {}
    for line in (root / "layers/deps/requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            layer[name.lower()] = version
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = {d.partition("==")[0].lower(): d.partition("==")[2] for d in project}
    # Then every layer package is pinned exactly, at the project's version, the SDK included
    assert all(layer.values()), layer
    assert {name: pinned.get(name) for name in layer} == layer
    assert {"boto3", "botocore"} <= set(layer)
