"""The api function's services (built at cold start) and the signed-in caller."""

from __future__ import annotations

import functools

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from timeline.errors import Unauthorized
from timeline.records import User
from timeline.service.container import Services, build_services
from timeline.settings import get_settings


@functools.lru_cache(maxsize=1)
def services() -> Services:
    return build_services(get_settings())


def caller_id(router: BaseRouter) -> int:
    """The caller, from the claims API Gateway's JWT authorizer verified; never from the body.
    Our Cognito usernames are user ids: `username` in access tokens, `cognito:username` in
    id tokens."""
    claims = router.current_event.request_context.authorizer.jwt_claim or {}
    username = claims.get("username") or claims.get("cognito:username")
    if not username or not str(username).isdigit():
        raise Unauthorized("sign in first: send Authorization: Bearer <token>", code="unauthorized")
    return int(username)


def caller(router: BaseRouter) -> User:
    return services().accounts.caller(caller_id(router))
