"""Pure, synchronous WebDAV protocol code: headers, request bodies, multistatus, walks.

Nothing here touches sockets, asyncio or storage (docs/architecture.md).
"""
