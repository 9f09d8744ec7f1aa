"""Python SDK for a Speaker server: `SpeakerClient` (blocking) and `AsyncSpeakerClient` (asyncio).

Importing it loads only httpx, pydantic and websockets: none of the server's engines.
"""

from speaker.client._core import WaitTimeoutError
from speaker.client.aio import AsyncSpeakerClient
from speaker.client.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SpeakerAPIError,
    SpeakerClientError,
)
from speaker.client.models import (
    BatchItem,
    Deleted,
    Job,
    JobItem,
    JobPage,
    Model,
    SessionAudio,
    SessionDone,
    SessionReady,
    SpeechChunk,
    SpeechDone,
    Status,
    Usage,
    Voice,
)
from speaker.client.sync import SpeakerClient
from speaker.client.ws import AsyncSpeechSession, SpeechSession

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncSpeakerClient",
    "AsyncSpeechSession",
    "AuthenticationError",
    "BatchItem",
    "ConflictError",
    "Deleted",
    "InvalidRequestError",
    "Job",
    "JobItem",
    "JobPage",
    "Model",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SessionAudio",
    "SessionDone",
    "SessionReady",
    "SpeakerAPIError",
    "SpeakerClient",
    "SpeakerClientError",
    "SpeechChunk",
    "SpeechDone",
    "SpeechSession",
    "Status",
    "Usage",
    "Voice",
    "WaitTimeoutError",
]
