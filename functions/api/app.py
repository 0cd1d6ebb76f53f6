"""The api function: every route of the HTTP API, on one powertools resolver.

Handlers stay thin: parse (powertools validates against schemas.py), call a service, shape
the response. Errors become HTTP responses in http_errors.py and nowhere else.
"""

from __future__ import annotations

import functools
import json

import http_errors
import openapi_doc
import routes_auth
import routes_media
import routes_tweets
import routes_users
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.json_encoder import Encoder

from timeline.observability import log_metrics, logger
from timeline.settings import get_settings

# The largest body we accept is a post of 2,240 astral code points, each escaped as a JSON
# surrogate pair ("\\ud83d\\udc68", 12 bytes): about 27 KB.
MAX_BODY_BYTES = 32 * 1024

# Responses as UTF-8 rather than ASCII escapes: a post in a non-Latin script or of emoji is a
# third of the bytes, and the Lambda result (which escapes the body string once more) stays
# well under the 6 MB limit at the largest page (tests/functional/test_response_bounds.py).
app = APIGatewayHttpResolver(enable_validation=True, serializer=functools.partial(
    json.dumps, separators=(",", ":"), cls=Encoder, ensure_ascii=False))
http_errors.register(app)


app.include_router(routes_auth.router)
app.include_router(routes_users.router)
app.include_router(routes_tweets.router)
app.include_router(routes_media.router)

SECURITY_SCHEMES = {"bearerAuth": HTTPBearer(bearerFormat="JWT")}
SECURITY = [{"bearerAuth": []}]
app.enable_swagger(
    path="/v1/docs",
    title="Timeline API",
    version="1.0.0",
    description="Home timelines with hybrid fan-out. Sign up, get a token from /v1/auth/token, "
                "then send it as `Authorization: Bearer <id_token>`.",
    security_schemes=SECURITY_SCHEMES,
    security=SECURITY,
)


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_json():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())


# Served without a token (template.yaml: `Authorizer: NONE`); the document says `security: []`.
PUBLIC_ROUTES = routes_auth.PUBLIC_ROUTES | {("GET", "/v1/health")}


@functools.lru_cache(maxsize=1)
def openapi_document() -> str:
    spec = json.loads(app.get_openapi_json_schema(
        title="Timeline API", version="1.0.0", security_schemes=SECURITY_SCHEMES, security=SECURITY))
    return json.dumps(openapi_doc.complete(spec, public=PUBLIC_ROUTES, media_max_bytes=get_settings().media_max_bytes),
                      separators=(",", ":"))


@app.get("/v1/health", summary="Liveness", tags=["meta"], security=[])
def health() -> dict:
    return {"status": "ok"}


def _log_request(event: dict, response: dict) -> None:
    """One line per request (an access log), with the request's id as its correlation id: the
    id the client got in its `apigw-requestid` header, and that the fan-out's lines carry."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method, path, status = http.get("method", "?"), str(event.get("rawPath", "?"))[:200], response.get("statusCode")
    logger.info(f"{method} {path} {status}", extra={"status": status})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@log_metrics
def handler(event, context):
    # Checked before routing: powertools validates (and would parse form bodies) first.
    response = http_errors.refuse_body(event, MAX_BODY_BYTES) or app.resolve(event, context)
    _log_request(event, response)
    return response
