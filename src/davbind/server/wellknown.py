"""GET and HEAD: davbind's own URLs under ``/.well-known/davbind/`` first (the JSON
schemas, the caller's shares), then the store (``read.get``).  The health endpoint is
answered before authentication (``observability``); these need a principal."""

from __future__ import annotations

from davbind.server import json_schema, read, shares
from davbind.server.http import Request, Response
from davbind.server.services import Services


async def get(services: Services, request: Request) -> Response:
    segments = request.segments
    if json_schema.is_schema_path(segments):
        return await json_schema.get(services, request)
    if segments == shares.SEGMENTS:
        return await shares.listing(services, request)
    return await read.get(services, request)
