"""Sign-up, sign-in, token refresh, confirmation and sign-out.

Sign-up and sign-in are limited per client address: the source IP API Gateway puts in the
request context (never a header such as X-Forwarded-For, which the client writes). Each route
here may also answer 503 with Retry-After when Cognito is out of capacity."""

from __future__ import annotations

import re

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from schemas import (
    PASSWORD_POLICY_PATTERN,
    ConfirmRequest,
    ErrorResponse,
    RefreshRequest,
    ResendRequest,
    ResendView,
    SignUpRequest,
    TokenRequest,
    TokenResponse,
    UserView,
)
from views import user_view
from wiring import caller_id, services

from timeline.errors import Unprocessable
from timeline.records import Tokens

router = APIGatewayHttpRouter()

UNAVAILABLE = {503: {"description": "Cognito is out of capacity or out of reach: try again after Retry-After",
                     "content": {"application/json": {"model": ErrorResponse}}}}

# What template.yaml routes with `Auth: {Authorizer: NONE}` (besides /v1/health and the docs):
# the document says `security: []` for these (a router forgets the routes' `security=[]`).
PUBLIC_ROUTES = frozenset({("POST", "/v1/auth/signup"), ("POST", "/v1/auth/token"), ("POST", "/v1/auth/refresh"),
                           ("POST", "/v1/auth/confirm"), ("POST", "/v1/auth/confirm/resend")})


@router.post("/v1/auth/signup", summary="Create an account", tags=["auth"], security=[],
             responses={201: {"description": "created", "content": {"application/json": {"model": UserView}}},
                        409: {"description": "handle taken", "content": {"application/json": {"model": ErrorResponse}}},
                        422: {"description": "invalid fields, or a password too weak",
                              "content": {"application/json": {"model": ErrorResponse}}}, **UNAVAILABLE})
def sign_up(body: SignUpRequest) -> Response[UserView]:
    # The pool's policy as the document says it, checked here too: an identity provider may read
    # "a digit" more widely (the local emulator takes any Unicode digit), and a refusal here
    # costs no profile written and deleted again.
    if not re.search(PASSWORD_POLICY_PATTERN, body.password):
        problem = "it needs a lowercase letter (a-z) and a digit (0-9)"
        raise Unprocessable(f"password is too weak: {problem}", code="weak_password",
                            details=[{"field": "password", "problem": problem}])
    user = services().accounts.sign_up(body.handle, body.password, body.display_name, client_address())
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=user_view(user))


@router.post("/v1/auth/token", summary="Sign in: exchange handle and password for tokens", tags=["auth"],
             security=[],
             responses={200: {"description": "tokens", "content": {"application/json": {"model": TokenResponse}}},
                        401: {"description": "wrong handle or password",
                              "content": {"application/json": {"model": ErrorResponse}}}, **UNAVAILABLE})
def token(body: TokenRequest) -> TokenResponse:
    return _token_response(services().accounts.issue_tokens(body.handle, body.password, client_address()))


@router.post("/v1/auth/refresh", summary="Fresh tokens for a refresh token", tags=["auth"], security=[],
             responses={200: {"description": "tokens", "content": {"application/json": {"model": TokenResponse}}},
                        401: {"description": "refresh token expired, revoked or not ours",
                              "content": {"application/json": {"model": ErrorResponse}}}, **UNAVAILABLE})
def refresh(body: RefreshRequest) -> TokenResponse:
    return _token_response(services().accounts.refresh_tokens(body.refresh_token))


@router.post("/v1/auth/confirm", summary="Confirm a sign-up (every account is confirmed when it is made)",
             tags=["auth"], security=[],
             responses={200: {"description": "confirmed", "content": {"application/json": {"model": UserView}}},
                        400: {"description": "no such confirmed account",
                              "content": {"application/json": {"model": ErrorResponse}}}, **UNAVAILABLE})
def confirm(body: ConfirmRequest) -> UserView:
    return user_view(services().accounts.confirm(body.handle, body.code))


@router.post("/v1/auth/confirm/resend", summary="Send the confirmation code again (there is none to send)",
             tags=["auth"], security=[],
             responses={202: {"description": "sent, if there is such an unconfirmed account (there is none)",
                              "content": {"application/json": {"model": ResendView}}}})
def resend_confirmation(body: ResendRequest) -> Response[ResendView]:
    destination = services().accounts.resend_confirmation(body.handle)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON,
                    body=ResendView(sent=True, destination=destination))


@router.post("/v1/auth/signout", summary="Sign out everywhere: revoke your refresh tokens", tags=["auth"],
             responses={204: {"description": "signed out; tokens already issued expire within the hour"},
                        **UNAVAILABLE})
def sign_out():
    services().accounts.sign_out_everywhere(caller_id(router))
    return Response(status_code=204)


def client_address() -> str:
    """The client's address, as API Gateway saw it ("" when not invoked through it)."""
    try:
        return router.current_event.request_context.http.source_ip or ""
    except (KeyError, TypeError):
        return ""


def _token_response(tokens: Tokens) -> TokenResponse:
    return TokenResponse(id_token=tokens.id_token, access_token=tokens.access_token,
                         refresh_token=tokens.refresh_token or "", expires_in=tokens.expires_in)
