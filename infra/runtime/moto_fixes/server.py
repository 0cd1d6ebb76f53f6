"""moto's server and request dispatch (werkzeug, Flask, moto.core.responses): what every
request to the emulator pays before a service sees it."""

from __future__ import annotations

import functools
from typing import Any

from infra.runtime.moto_fixes.registry import Fix, Patch

DISPATCHER = "moto.moto_server.werkzeug_app.DomainDispatcherApplication"

_backends_by_host: dict[str, Any] = {}


def _remembered_backend(inner: Any, self: Any, host: Any) -> Any:
    """moto's server finds each request's backend by trying its host against the URL pattern
    of every service it emulates (hundreds of regular expressions), under one lock that every
    request takes: about a sixth of the emulator's time under load (moto 5.2.5). The answer
    depends on the host alone (the patterns never change), so it is remembered per host."""
    backend = _backends_by_host.get(host)
    if backend is None:
        backend = inner(self, host)
        if backend is not None:  # no answer (an unknown host) is not remembered
            _backends_by_host[host] = backend
    return backend


@functools.cache
def _json_handlers() -> dict[str, Any]:
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.sqs.responses import SQSResponse

    return {"DynamoDB_20120810": DynamoHandler, "DynamoDBStreams_20120810": DynamoDBStreamsHandler,
            "AmazonSQS": SQSResponse}


def _direct(handler: Any, environ: dict[str, Any], start_response: Any) -> Any:
    from botocore.exceptions import ClientError
    from flask import Response
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest

    request = BackendRequest(environ)
    recorder._record_request(request)
    try:
        result = handler.dispatch(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    return Response(response=content, status=status, headers=headers)(environ, start_response)


def _past_flask(inner: Any, self: Any, environ: dict[str, Any], start_response: Any) -> Any:
    """Every request to moto's server goes through a Flask app per service (in debug mode,
    with CORS hooks, a request context and URL routing) only to reach the service's
    `dispatch` with a request, a URL and headers, and to wrap its (status, headers, body) in a
    response: about a sixth of the emulator's time for a small request (moto 5.2.5). The
    requests that carry a timeline's traffic (DynamoDB, its streams and SQS: JSON protocols,
    POST to "/", the API named by X-Amz-Target) now reach `dispatch` directly, the way moto's
    own view (convert_to_flask_response) calls it, with the request class moto's Flask apps
    use. Everything else (other paths and services, a browser's request with an Origin
    header, which wants Flask's CORS answer) still goes through Flask."""
    if (environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/"
            and "HTTP_ORIGIN" not in environ):
        handler = _json_handlers().get(environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0])
        if handler is not None:
            return _direct(handler, environ, start_response)
    return inner(self, environ, start_response)


@functools.cache
def _method_names(cls: type) -> frozenset[str]:
    from moto.core.utils import method_names_from_class

    return frozenset(method_names_from_class(cls))


@functools.lru_cache(maxsize=4096)
def _camelcase_to_underscores(name: str) -> str:
    from moto.core.utils import camelcase_to_underscores

    return camelcase_to_underscores(name)


# moto finds a request's handler by listing every function of its response class
# (inspect.getmembers: every attribute, sorted) and by converting the action's name to snake
# case, on every request: about 7% of the emulator's time for a small request (moto 5.2.5). Both
# answers depend on the class and the name alone, so they are remembered.
FIXES = [
    Fix("server.requests_routed_by_a_remembered_host", "speed",
        "moto's server tries each request's host against every service's URL patterns, under one lock; "
        "the answer depends on the host alone and is remembered",
        patches=(Patch(f"{DISPATCHER}.get_backend_for_host", wrap=_remembered_backend),)),
    Fix("server.data_plane_requests_past_flask", "speed",
        "moto's server sends every request through a Flask app per service only to reach its dispatch; "
        "DynamoDB, Streams and SQS requests (JSON, POST /) reach dispatch directly",
        patches=(Patch(f"{DISPATCHER}.__call__", wrap=_past_flask),)),
    Fix("server.action_names_remembered_per_class", "speed",
        "moto lists every member of a response class and snake-cases the action's name on every request; "
        "both answers are remembered",
        patches=(Patch("moto.core.responses.method_names_from_class", value=_method_names),
                 Patch("moto.core.responses.camelcase_to_underscores", value=_camelcase_to_underscores))),
]
