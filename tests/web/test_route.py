"""The studio's page and files, served without a build step, a key or a browser."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from speaker.api.app import create_app
from speaker.api.routes.web import STATIC_DIR, WEB_DIR
from speaker.config import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # Keys required: the page and its files must be served all the same. Without `with`, the
    # lifespan does not run, so no engine loads: the page needs none.
    settings = Settings(data_dir=tmp_path, auth="on", require_consent=True, max_input_chars=1234)
    return TestClient(create_app(settings))


def test_the_page_is_public_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    # No inline script or style for the policy to refuse.
    page = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)
    assert client.head("/").status_code == 200


def test_the_page_carries_the_limits_it_shows(client: TestClient) -> None:
    page = client.get("/").text
    match = re.search(r'<meta name="speaker-config" content="([^"]*)">', page)
    assert match is not None
    config = json.loads(html.unescape(match.group(1)))
    assert config["maxInputChars"] == 1234
    assert config["requireConsent"] is True


def test_every_file_the_page_and_its_modules_name_is_served(client: TestClient) -> None:
    page = client.get("/").text
    wanted = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page))
    modules = sorted(STATIC_DIR.glob("*.js"))
    for module in modules:
        for name in re.findall(r'from "\./([^"]+)"', module.read_text()):
            wanted.add(f"/static/{name}")
    assert {"/static/app.js", "/static/app.css", "/static/api.js", "/static/player.js"} <= wanted
    for path in sorted(wanted):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-cache"
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/static/%2e%2e/%2e%2e/api/routes/web.py").status_code == 404


def test_the_studio_ships_in_the_package() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    patterns = re.search(r"\[tool\.setuptools\.package-data\]\s*speaker = \[([^\]]*)\]", pyproject)
    assert patterns is not None
    shipped = {p.strip().strip('"') for p in patterns.group(1).split(",") if p.strip()}
    package = WEB_DIR.parent
    for file in [*WEB_DIR.glob("*.html"), *STATIC_DIR.iterdir()]:
        relative = file.relative_to(package)
        assert any(relative.match(pattern) for pattern in shipped), f"{relative} is not packaged"
