"""Image uploads: a presigned POST to S3, then the upload's status as the processor left it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from schemas import ID_PATTERN, MEDIA_TYPES, ErrorResponse, MediaUploadRequest, MediaView, UploadView
from views import media_view, upload_view
from wiring import caller_id, services

from timeline.errors import UnsupportedMediaType

router = APIGatewayHttpRouter()

MediaIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="the media_id POST /v1/media returned")]


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"model": ErrorResponse}}}


@router.post("/v1/media", summary="Start an image upload", tags=["media"],
             description="Returns a presigned POST: send its `fields` and then the file (`file`) as "
                         "multipart/form-data to its `url`, straight to S3. The upload is checked "
                         "(GET /v1/media/{media_id}) before it can go on a post. An account gets "
                         "UploadFormsPerMinute forms a minute and has at most MaxPendingUploads uploads "
                         "pending: each counts until it is checked, or until its form has lapsed.",
             responses={201: {"description": "upload form", "content": {"application/json": {"model": UploadView}}},
                        413: _error("larger than MediaMaxBytes"),
                        415: _error("not image/jpeg, image/png, image/gif or image/webp"),
                        422: _error("content_length not positive"),
                        429: _error("more than UploadFormsPerMinute forms this minute (rate_limited), or "
                                    "MaxPendingUploads uploads not yet sent and checked (too_many_pending_uploads)")})
def start_upload(body: MediaUploadRequest) -> Response[UploadView]:
    # Exactly the document's enum: the service would also take "IMAGE/PNG" or " image/png".
    if body.content_type not in MEDIA_TYPES:
        raise UnsupportedMediaType(f"{body.content_type!r} is not accepted; upload one of {', '.join(MEDIA_TYPES)}",
                                   code="unsupported_media_type")
    upload = services().media.start_upload(caller_id(router), body.content_type, body.content_length)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                    body=upload_view(upload, services().settings.media_max_bytes))


@router.get("/v1/media/<media_id>", summary="An upload's status (yours only)", tags=["media"],
            responses={200: {"description": "the upload's status", "content": {"application/json": {"model": MediaView}}},
                       403: _error("someone else's upload"), 404: _error("no such upload")})
def media_status(media_id: MediaIdPath) -> MediaView:
    item = services().media.status(caller_id(router), int(media_id))
    return media_view(item, services().media.item_urls(item))
