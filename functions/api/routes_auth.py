"""POST /v1/auth/signup and /v1/auth/token (no token needed)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from schemas import ErrorResponse, SignUpRequest, TokenRequest, TokenResponse, UserView
from views import user_view
from wiring import services

router = APIGatewayHttpRouter()


@router.post("/v1/auth/signup", summary="Create an account", tags=["auth"],
             responses={201: {"description": "created", "content": {"application/json": {"model": UserView}}},
                        400: {"description": "weak password", "content": {"application/json": {"model": ErrorResponse}}},
                        409: {"description": "handle taken", "content": {"application/json": {"model": ErrorResponse}}}})
def sign_up(body: SignUpRequest) -> Response[UserView]:
    user = services().accounts.sign_up(body.handle, body.password, body.display_name)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=user_view(user))


@router.post("/v1/auth/token", summary="Sign in: exchange handle and password for tokens", tags=["auth"],
             responses={401: {"description": "wrong handle or password",
                              "content": {"application/json": {"model": ErrorResponse}}}})
def token(body: TokenRequest) -> TokenResponse:
    tokens = services().accounts.issue_tokens(body.handle, body.password)
    return TokenResponse(id_token=tokens.id_token, access_token=tokens.access_token, expires_in=tokens.expires_in)
