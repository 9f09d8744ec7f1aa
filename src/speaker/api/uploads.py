"""Reading uploaded files with a hard size cap, whatever the client declared."""

from __future__ import annotations

from fastapi import UploadFile

from speaker.errors import InvalidRequestError, PayloadTooLargeError


async def read_upload(upload: UploadFile, limit: int, param: str) -> bytes:
    """The file's bytes; 413 once more than `limit` arrive, 400 when it is empty."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"{param} is larger than {limit // (1024 * 1024)} MiB",
            code="file_too_large",
            param=param,
            suggestion="upload a shorter clip: 3 to 30 seconds of speech is enough",
            extra={"max_bytes": limit},
        )
    if not data:
        raise InvalidRequestError(
            f"{param} is empty", code="empty_file", param=param, suggestion="attach an audio file"
        )
    return data
