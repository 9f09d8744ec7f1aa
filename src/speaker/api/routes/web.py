"""The web studio: `GET /` serves its page, `/static/` its scripts and styles.

Plain HTML, CSS and JavaScript modules shipped inside the package (`speaker/web/`), so the studio
works right after `pip install` with nothing to build. Both paths are public (see
`speaker.api.auth.PUBLIC_PATHS`): the page itself asks for an API key when the API wants one.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from speaker.api.deps import RuntimeDep
from speaker.runtime import Runtime

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
STATIC_DIR = WEB_DIR / "static"

# No inline script or style anywhere, so the page can forbid both: an injected <script> (say, a
# voice name that slipped through escaping) cannot run. Audio previews and downloads are blob:
# URLs; the API is same-origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    # Revalidate every time (a 304 when unchanged), so an upgrade never mixes old and new modules.
    "cache-control": "no-cache",
}

router = APIRouter(include_in_schema=False)


class _StudioFiles(StaticFiles):
    """Static files with the studio's headers."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = "no-cache"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def _page(runtime: Runtime) -> str:
    settings = runtime.settings
    # Limits the page shows before a request fails (a character counter, a consent step marked
    # required); the API enforces them all the same. Nothing here is secret: `/` is public.
    config = {
        "maxInputChars": settings.max_input_chars,
        "maxLongInputChars": settings.max_long_input_chars,
        "requireConsent": settings.require_consent,
        "maxJobItems": settings.job_max_items,
    }
    page = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    return page.replace("{{config}}", html.escape(json.dumps(config), quote=True))


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def studio(runtime: RuntimeDep) -> HTMLResponse:
    """The studio's single page."""
    return HTMLResponse(_page(runtime), headers=_SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    """Serve the studio: its page at `/`, its files under `/static/`."""
    app.include_router(router)
    app.mount("/static", _StudioFiles(directory=STATIC_DIR), name="static")
