"""API keys over HTTP and WebSocket: 401/403 on every route, rate limits, audit, voice privacy.

One runtime with its own database (keys made here must not switch auth on for other modules)
serves a live server with SPEAKER_AUTH=on; replicas on the real Redis and a CORS server share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from speaker.api.app import create_app
from speaker.api.auth import is_public
from speaker.audio.formats import AudioFormat
from speaker.auth.principal import Role
from speaker.config import Settings
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from tests.conftest import LiveServer
from tests.servers import RedisServer

pytestmark = pytest.mark.slow

# Written out here rather than imported, so that a route made public by mistake fails a test.
PUBLIC = {"/", "/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
ADMIN = ("/v1/keys", "/v1/audit")
SAMPLE_TEXT = (
    "My voice is my own. I read this short passage so the server can learn how I sound, "
    "and I agree that it may speak in my voice."
)


@pytest.fixture(scope="module")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("auth-data"), workers=2, auth="on")


@pytest.fixture(scope="module")
def auth_runtime(auth_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(auth_settings)
    runtime.load()
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def live(auth_settings: Settings, auth_runtime: Runtime) -> Iterator[LiveServer]:
    server = LiveServer(auth_settings, auth_runtime)
    server.start()
    yield server
    server.stop()


def _key(runtime: Runtime, role: Role, owner: str, **limits: int) -> str:
    name = f"{owner}-{role.value}"
    rpm, cpm = limits.get("rpm"), limits.get("cpm")
    return runtime.keys.create(name, role, owner, rpm, cpm).secret


def _bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def admin(auth_runtime: Runtime) -> str:
    return _key(auth_runtime, Role.ADMIN, "ops")


@pytest.fixture(scope="module")
def alice(auth_runtime: Runtime) -> str:
    return _key(auth_runtime, Role.USER, "alice")


@pytest.fixture(scope="module")
def bob(auth_runtime: Runtime) -> str:
    return _key(auth_runtime, Role.USER, "bob")


@pytest.fixture(scope="module")
def reader(auth_runtime: Runtime) -> str:
    return _key(auth_runtime, Role.READONLY, "alice")


@pytest.fixture(scope="module")
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def sample(auth_runtime: Runtime) -> bytes:
    order = SpeechOrder(text=SAMPLE_TEXT, model="piper", fmt=AudioFormat.WAV)
    return asyncio.run(auth_runtime.service.synthesize(order))


def _routes(settings: Settings, runtime: Runtime) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, WebSockets as `WS`; path parameters as `x`."""
    found = []
    # Included routers are resolved lazily; this walks them down to every route.
    for route in iter_route_contexts(create_app(settings, runtime).routes):
        if isinstance(route.original_route, WebSocketRoute):
            methods = {"WS"}
        elif isinstance(route.original_route, Route):
            methods = set(route.methods or ()) - {"HEAD"}
        elif isinstance(route.original_route, Mount):
            # Static files (the studio's assets) are public by design, and only those.
            assert is_public(f"{route.original_route.path}/x"), route.original_route
            continue
        else:
            raise AssertionError(f"a route of an unknown kind: {route.original_route!r}")
        assert route.path is not None
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        found += [(method, path) for method in sorted(methods)]
    return found


_WS_REFUSALS = {"missing_api_key": 401, "invalid_api_key": 401, "insufficient_role": 403}


def _ws_status(live: LiveServer, path: str, headers: dict[str, str]) -> int:
    """A WebSocket session's answer as an HTTP status: auth refusals arrive as the session's
    error message and a 1008 close; an admitted session (101) says `ready`, or the route's own
    error (an unknown voice `x`)."""
    with connect(f"ws://127.0.0.1:{live.port}{path}", additional_headers=headers) as ws:
        # A refused session is closed at once, so this may fail; its error is still readable.
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps({"type": "close"}))
        first = json.loads(ws.recv(timeout=10))
        if first["type"] == "ready":
            return 101
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    return _WS_REFUSALS.get(first["error"]["code"], 101)


def _status(live: LiveServer, method: str, path: str, headers: dict[str, str]) -> int:
    if method == "WS":
        return _ws_status(live, path, headers)
    return httpx.request(method, f"{live.url}{path}", headers=headers, timeout=30).status_code


def test_every_route_but_the_public_ones_needs_a_key(
    live: LiveServer, auth_settings: Settings, auth_runtime: Runtime
) -> None:
    routes = _routes(auth_settings, auth_runtime)
    assert {p for _, p in routes} >= PUBLIC | {"/v1/audio/speech", "/v1/tts/ws", "/v1/keys"}
    for method, path in routes:
        status = _status(live, method, path, {})
        if path in PUBLIC:
            assert status == 200, (method, path)
        else:
            assert status == 401, (method, path)
    refused = httpx.post(f"{live.url}/v1/audio/speech", json={"input": "hi"})
    assert refused.headers["www-authenticate"] == "Bearer"
    error = refused.json()["error"]
    assert error["code"] == "missing_api_key"
    assert error["suggestion"]
    wrong = httpx.get(f"{live.url}/v1/models", headers=_bearer("spk-not-a-key"))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"


def test_roles_are_enforced_on_every_route(
    live: LiveServer,
    auth_settings: Settings,
    auth_runtime: Runtime,
    reader: str,
    alice: str,
    admin: str,
) -> None:
    for method, path in _routes(auth_settings, auth_runtime):
        if path in PUBLIC:
            continue
        is_admin_route = path.startswith(ADMIN)
        as_reader = _status(live, method, path, _bearer(reader))
        if is_admin_route or method not in ("GET", "HEAD"):
            assert as_reader == 403, (method, path)
        else:
            assert as_reader not in (401, 403), (method, path)
        as_user = _status(live, method, path, _bearer(alice))
        assert (as_user == 403) == is_admin_route, (method, path, as_user)
        if is_admin_route:
            assert _status(live, method, path, _bearer(admin)) not in (401, 403), (method, path)
    denied = httpx.get(f"{live.url}/v1/keys", headers=_bearer(alice)).json()["error"]
    assert denied["code"] == "insufficient_role"
    assert denied["required_role"] == "admin"
    assert "admin" in denied["message"]


def test_the_docs_can_send_a_key(live: LiveServer) -> None:
    schema = httpx.get(f"{live.url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/audio/speech"]["post"]["security"] == [{"apiKey": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_the_openai_client_sends_its_key(live: LiveServer, alice: str) -> None:
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=alice, max_retries=0)
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Keys work.", response_format="pcm"
    )
    assert len(audio.content) > 10_000
    anonymous = openai.OpenAI(base_url=f"{live.url}/v1", api_key="not-needed", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        anonymous.models.list()
    assert refused.value.body["code"] == "invalid_api_key"  # type: ignore[index]


def test_a_websocket_takes_its_key_from_the_query(live: LiveServer, alice: str) -> None:
    with connect(f"ws://127.0.0.1:{live.port}/v1/tts/ws?api_key={alice}") as ws:
        ws.send(json.dumps({"type": "close"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"


def test_a_revoked_key_is_refused(live: LiveServer, http: httpx.Client, admin: str) -> None:
    made = http.post("/v1/keys", json={"name": "temp", "role": "user"}, headers=_bearer(admin))
    assert made.status_code == 201
    key = made.json()
    assert key["secret"].startswith(key["prefix"])
    assert key["webhook_secret"].startswith("whsec_")
    assert key["owner"] == "temp"
    assert http.get("/v1/models", headers=_bearer(key["secret"])).status_code == 200
    listed = http.get("/v1/keys", headers=_bearer(admin)).json()["data"]
    assert all("secret" not in k for k in listed)
    revoked = http.delete(f"/v1/keys/{key['id']}", headers=_bearer(admin))
    assert revoked.json()["revoked_at"] is not None
    refused = http.get("/v1/models", headers=_bearer(key["secret"]))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


def test_requests_per_minute(live: LiveServer, auth_runtime: Runtime, alice: str) -> None:
    limited = _key(auth_runtime, Role.USER, "carol", rpm=3)
    remaining = []
    for _ in range(3):
        answer = httpx.get(f"{live.url}/v1/models", headers=_bearer(limited))
        assert answer.status_code == 200
        assert answer.headers["x-ratelimit-limit-requests"] == "3"
        remaining.append(int(answer.headers["x-ratelimit-remaining-requests"]))
    assert remaining == [2, 1, 0]
    refused = httpx.get(f"{live.url}/v1/models", headers=_bearer(limited))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert re.fullmatch(r"\d+s|\d+ms|1m0s", refused.headers["x-ratelimit-reset-requests"])
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    # Limits are per key: an unlimited key is not slowed down, and carries no headers.
    other = httpx.get(f"{live.url}/v1/models", headers=_bearer(alice))
    assert other.status_code == 200
    assert "x-ratelimit-limit-requests" not in other.headers


def _speak(live: LiveServer, secret: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{live.url}/v1/audio/speech",
        json={"input": text, "voice": "alloy", "response_format": "pcm"},
        headers=_bearer(secret),
        timeout=60,
    )


def test_characters_per_minute(live: LiveServer, auth_runtime: Runtime) -> None:
    limited = _key(auth_runtime, Role.USER, "dave", cpm=60)
    first = _speak(live, limited, "Forty characters of text, give or take..")
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-characters"] == "60"
    assert first.headers["x-ratelimit-remaining-characters"] == "20"
    refused = _speak(live, limited, "Thirty characters, more or less")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-characters"] == "20"
    # The refused text was not charged, so what is left still fits.
    assert _speak(live, limited, "Twenty characters!!!").status_code == 200
    too_long = _speak(live, limited, "x" * 61)
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "input_over_rate_limit"


def test_websocket_text_is_charged_as_it_arrives(live: LiveServer, auth_runtime: Runtime) -> None:
    limited = _key(auth_runtime, Role.USER, "erin", cpm=30)
    with connect(f"ws://127.0.0.1:{live.port}/v1/tts/ws?api_key={limited}") as ws:
        ws.send(json.dumps({"type": "start", "binary": False}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        ws.send(json.dumps({"type": "text", "text": "Twenty chars of it. "}))
        ws.send(json.dumps({"type": "text", "text": "And twenty more here."}))
        while True:
            message = json.loads(ws.recv(timeout=20))
            if message["type"] == "error":
                break
        assert message["error"]["code"] == "rate_limit_exceeded"
        ws.send(json.dumps({"type": "close"}))
        while message["type"] != "done":
            message = json.loads(ws.recv(timeout=20))
        assert message["characters"] == 20


@pytest.fixture(scope="module")
def replicas(
    redis_server: RedisServer, auth_settings: Settings, auth_runtime: Runtime
) -> Iterator[list[LiveServer]]:
    redis_server.flush()
    shared = Settings(
        data_dir=auth_settings.data_dir, workers=2, auth="on", redis_url=redis_server.url
    )
    servers = [LiveServer(shared, auth_runtime) for _ in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_replicas_share_a_keys_limits_through_redis(
    replicas: list[LiveServer], auth_runtime: Runtime
) -> None:
    limited = _key(auth_runtime, Role.USER, "frank", rpm=4)
    remaining = []
    for n in range(4):
        answer = httpx.get(f"{replicas[n % 2].url}/v1/models", headers=_bearer(limited))
        assert answer.status_code == 200
        remaining.append(int(answer.headers["x-ratelimit-remaining-requests"]))
    assert remaining == [3, 2, 1, 0]
    for server in replicas:
        refused = httpx.get(f"{server.url}/v1/models", headers=_bearer(limited))
        assert refused.status_code == 429
        assert "retry-after" in refused.headers


def _consent(http: httpx.Client, secret: str, sample: bytes) -> str:
    made = http.post(
        "/v1/audio/voice_consents",
        files={"recording": ("consent.wav", sample, "audio/wav")},
        data={"name": "consent", "language": "en"},
        headers=_bearer(secret),
    )
    assert made.status_code == 200, made.text
    consent: str = made.json()["id"]
    return consent


def _voice(http: httpx.Client, secret: str, sample: bytes, consent: str) -> str:
    made = http.post(
        "/v1/voices",
        files={"audio": ("voice.wav", sample, "audio/wav")},
        data={"name": "Alice's voice", "transcript": SAMPLE_TEXT, "consent": consent},
        headers=_bearer(secret),
    )
    assert made.status_code == 201, made.text
    voice: str = made.json()["id"]
    return voice


def test_cloned_voices_are_private_until_shared(
    http: httpx.Client, alice: str, bob: str, admin: str, sample: bytes
) -> None:
    consent = _consent(http, alice, sample)
    voice = _voice(http, alice, sample, consent)
    assert http.get(f"/v1/voices/{voice}", headers=_bearer(alice)).json()["owner"] == "alice"
    # To bob the voice and the consent do not exist: 404 everywhere, no hint that they do.
    for path in (f"/v1/voices/{voice}", f"/v1/voices/{voice}/audio"):
        hidden = http.get(path, headers=_bearer(bob))
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "voice_not_found"
    assert http.get(f"/v1/audio/voice_consents/{consent}", headers=_bearer(bob)).status_code == 404
    assert http.delete(f"/v1/voices/{voice}", headers=_bearer(bob)).status_code == 404
    listed = http.get("/v1/voices", params={"type": "cloned"}, headers=_bearer(bob)).json()
    assert voice not in [v["id"] for v in listed["data"]]
    speech = {"input": "Hi.", "voice": voice, "response_format": "pcm"}
    unseen = http.post("/v1/audio/speech", json=speech, headers=_bearer(bob))
    assert unseen.json()["error"]["code"] == "voice_not_found"
    assert http.get(f"/v1/voices/{voice}", headers=_bearer(admin)).status_code == 200
    # Shared: bob may use it (Piper cannot clone, so speaking it is a different refusal) ...
    shared = http.patch(f"/v1/voices/{voice}", json={"shared": True}, headers=_bearer(alice))
    assert shared.json()["shared"] is True
    assert http.get(f"/v1/voices/{voice}", headers=_bearer(bob)).status_code == 200
    seen = http.post("/v1/audio/speech", json=speech, headers=_bearer(bob))
    assert seen.json()["error"]["code"] == "voice_requires_cloning_engine"
    # ... but not change or delete it.
    for attempt in (
        http.patch(f"/v1/voices/{voice}", json={"name": "mine"}, headers=_bearer(bob)),
        http.delete(f"/v1/voices/{voice}", headers=_bearer(bob)),
    ):
        assert attempt.status_code == 403
        assert attempt.json()["error"]["code"] == "not_voice_owner"
    assert http.delete(f"/v1/voices/{voice}", headers=_bearer(alice)).status_code == 200


def test_the_audit_log_records_who_did_what(
    http: httpx.Client, alice: str, admin: str, sample: bytes
) -> None:
    key = http.post("/v1/keys", json={"name": "audited"}, headers=_bearer(admin)).json()
    http.delete(f"/v1/keys/{key['id']}", headers=_bearer(admin))
    consent = _consent(http, alice, sample)
    voice = _voice(http, alice, sample, consent)
    http.patch(f"/v1/voices/{voice}", json={"shared": True}, headers=_bearer(alice))
    http.patch(f"/v1/voices/{voice}", json={"shared": False}, headers=_bearer(alice))
    http.delete(f"/v1/voices/{voice}", headers=_bearer(alice))

    assert http.get("/v1/audit", headers=_bearer(alice)).status_code == 403
    page = http.get("/v1/audit", params={"limit": 1000}, headers=_bearer(admin)).json()
    entries = {(e["action"], e["target"]): e for e in page["data"]}
    for action, target in [
        ("key.create", key["id"]),
        ("key.revoke", key["id"]),
        ("consent.create", consent),
        ("voice.create", voice),
        ("voice.share", voice),
        ("voice.unshare", voice),
        ("voice.delete", voice),
    ]:
        assert (action, target) in entries, (action, target)
    created = entries[("voice.create", voice)]
    assert created["owner"] == "alice"
    assert created["address"] == "127.0.0.1"
    assert created["actor"].startswith("key_")
    assert created["detail"]["consent"] == consent
    assert entries[("key.create", key["id"])]["owner"] == "ops"
    assert key["secret"] not in json.dumps(page)
    # Filtered by a family of actions, newest first, paged with a cursor.
    voices = http.get(
        "/v1/audit", params={"action": "voice", "limit": 2}, headers=_bearer(admin)
    ).json()
    assert [e["action"] for e in voices["data"]] == ["voice.delete", "voice.unshare"]
    assert voices["has_more"] is True
    older = http.get(
        "/v1/audit",
        params={"action": "voice", "limit": 2, "cursor": voices["next_cursor"]},
        headers=_bearer(admin),
    ).json()
    assert [e["action"] for e in older["data"]] == ["voice.share", "voice.create"]


@pytest.fixture(scope="module")
def cors_server(auth_settings: Settings, auth_runtime: Runtime) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=auth_settings.data_dir, workers=2, auth="on", cors_origins="https://app.example"
    )
    server = LiveServer(settings, auth_runtime)
    server.start()
    yield server
    server.stop()


def test_cors_is_off_unless_configured(
    live: LiveServer, cors_server: LiveServer, alice: str
) -> None:
    origin = {"origin": "https://app.example"}
    plain = httpx.get(f"{live.url}/v1/models", headers={**origin, **_bearer(alice)})
    assert "access-control-allow-origin" not in plain.headers
    allowed = httpx.get(f"{cors_server.url}/v1/models", headers={**origin, **_bearer(alice)})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    # A preflight needs no key, and a refusal is readable by the page.
    preflight = httpx.options(
        f"{cors_server.url}/v1/audio/speech",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = httpx.get(f"{cors_server.url}/v1/models", headers=origin)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://app.example"
    stranger = httpx.get(f"{cors_server.url}/v1/models", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers


def test_keys_are_stored_hashed(auth_runtime: Runtime, auth_settings: Settings) -> None:
    secret = _key(auth_runtime, Role.USER, "grace")
    files = [p for p in Path(auth_settings.data_dir).glob("speaker.db*") if p.is_file()]
    assert files
    stored = b"".join(p.read_bytes() for p in files)
    assert secret.encode() not in stored
    assert secret[4:].encode() not in stored
