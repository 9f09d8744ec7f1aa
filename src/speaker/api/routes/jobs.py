"""Batch jobs: `POST /v1/tts/batch`, and `/v1/jobs` to follow, fetch, list and cancel them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from speaker.api.auth import charge_characters
from speaker.api.deps import ClientId, CurrentPrincipal, ReadyRuntime
from speaker.api.protocol import ErrorResponse
from speaker.api.protocol_jobs import BatchRequest, JobList, JobObject, JobState
from speaker.audio.formats import AudioFormat, content_type
from speaker.jobs import BatchOrder
from speaker.jobs.store import JobQuery

batch_router = APIRouter(prefix="/v1/tts", tags=["jobs"])
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@batch_router.post(
    "/batch",
    summary="Submit many texts (or one long text) as a durable job",
    status_code=202,
    responses=_ERRORS,
)
async def submit_batch(
    body: BatchRequest,
    runtime: ReadyRuntime,
    principal: CurrentPrincipal,
    client: ClientId,
    request: Request,
    response: Response,
) -> JobObject:
    """Accept a job at once (202) and synthesize it in the background.

    Every item is checked first (voice, format, text), so a bad one is a 400 naming it
    (`items[3].voice`) and nothing is stored. Each `input` may be up to
    SPEAKER_MAX_LONG_INPUT_CHARS: a long text is submitted as a batch of one item. The job and
    its items are committed before this answer, so a restart or a crash loses nothing accepted.
    Lower `priority` runs sooner among batch jobs; live speech requests always go first.
    """
    await charge_characters(request, sum(len(item.input) for item in body.items))
    batch = BatchOrder(
        orders=[item.to_order(client, principal) for item in body.items],
        priority=body.priority,
        webhook_url=body.webhook_url,
        metadata=body.metadata,
    )
    detail = await runtime.jobs.submit(principal, batch)
    response.headers["Location"] = f"/v1/jobs/{detail.job.id}"
    return JobObject.of(detail.job, detail)


@router.get("", summary="List jobs", responses=_ERRORS)
async def list_jobs(
    runtime: ReadyRuntime,
    principal: CurrentPrincipal,
    state: JobState | None = None,
    since: Annotated[float | None, Query(description="Created at or after (Unix time).")] = None,
    until: Annotated[float | None, Query(description="Created before (Unix time).")] = None,
    after: Annotated[
        str | None, Query(max_length=64, description="The last id of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    """Your jobs, newest first, paged with `after` and `limit` like OpenAI's lists."""
    query = JobQuery(state=state, since=since, until=until, after=after, limit=limit)
    records, more = await runtime.jobs.page(principal, query)
    data = [JobObject.of(r) for r in records]
    return JobList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=more,
    )


@router.get("/{job_id}", summary="A job with its items and webhook deliveries", responses=_ERRORS)
async def get_job(runtime: ReadyRuntime, principal: CurrentPrincipal, job_id: str) -> JobObject:
    """State, counts, each item's progress and error, and every webhook delivery attempt."""
    detail = await runtime.jobs.get(principal, job_id)
    return JobObject.of(detail.job, detail)


@router.get(
    "/{job_id}/items/{n}",
    summary="The audio of one item",
    response_class=FileResponse,
    responses={
        200: {"content": {content_type(f): {} for f in AudioFormat}},
        409: {"model": ErrorResponse, "description": "Not finished (with Retry-After)."},
        **_ERRORS,
    },
)
async def get_item(
    runtime: ReadyRuntime, principal: CurrentPrincipal, job_id: str, n: int
) -> FileResponse:
    """The finished item's file; 409 `item_not_ready` (with Retry-After) until then."""
    found = await runtime.jobs.item_file(principal, job_id, n)
    return FileResponse(found.path, media_type=content_type(found.fmt), filename=found.name)


@router.get(
    "/{job_id}/results.zip",
    summary="Every finished item in one zip",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}, **_ERRORS},
)
async def get_results(
    runtime: ReadyRuntime, principal: CurrentPrincipal, job_id: str
) -> FileResponse:
    """The succeeded items' audio (`00000.mp3`, …) and `job.json` with every item's state."""
    archive = await runtime.jobs.results_zip(principal, job_id)
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{job_id}.zip",
        background=BackgroundTask(archive.unlink, missing_ok=True),
    )


@router.delete("/{job_id}", summary="Cancel a job", responses=_ERRORS)
async def cancel_job(runtime: ReadyRuntime, principal: CurrentPrincipal, job_id: str) -> JobObject:
    """Queued items are cancelled at once, running ones within a third of the lease; finished
    items keep their audio. A job that already finished is returned unchanged."""
    detail = await runtime.jobs.cancel(principal, job_id)
    return JobObject.of(detail.job, detail)
