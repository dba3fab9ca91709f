"""nvcr.io manifest probes: image parsing, challenge parsing and the docker v2 token flow (respx)."""

from __future__ import annotations

import base64

import httpx2
import pytest
import respx

from skill.steps.registry import (
    MANIFEST_ACCEPT,
    RegistryProbe,
    nvcr_images,
    parse_image,
    parse_www_authenticate,
    probe_image,
    registry_verdict,
)

KEY = "nvapi-registrykey0123456"
IMAGE = "nvcr.io/nvidia/paidf-auto-labeling:1.0.0"
MANIFEST = "https://nvcr.io/v2/nvidia/paidf-auto-labeling/manifests/1.0.0"
REALM = "https://nvcr.io/proxy_auth"
CHALLENGE = f'Bearer realm="{REALM}",service="registry",scope="repository:nvidia/paidf-auto-labeling:pull"'


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def http():
    with httpx2.Client() as client:
        yield client


@pytest.mark.parametrize(("image", "registry", "repository", "reference"), [
    ("nvcr.io/nvidia/base/ubuntu:22.04_20240212", "nvcr.io", "nvidia/base/ubuntu", "22.04_20240212"),
    ("nvcr.io/nim/nvidia/model-free-nim:2.0.2", "nvcr.io", "nim/nvidia/model-free-nim", "2.0.2"),
    ("nvcr.io/nvidia/x@sha256:abc123", "nvcr.io", "nvidia/x", "sha256:abc123"),
    ("nvcr.io/nvidia/x", "nvcr.io", "nvidia/x", "latest"),
    ("'nvcr.io/nvidia/x:1'", "nvcr.io", "nvidia/x", "1"),
    ("localhost:5000/team/x:2", "localhost:5000", "team/x", "2"),
    ("python:3.11-slim", "docker.io", "python", "3.11-slim"),
])
def test_parse_image(image, registry, repository, reference):
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.reference) == (registry, repository, reference)


def test_manifest_url():
    assert parse_image(IMAGE).manifest_url == MANIFEST


def test_nvcr_images_reads_image_lines_sorted_and_unique():
    text = (
        "workflow:\n  tasks:\n"
        "  - name: a\n    image: nvcr.io/nvidia/b:1  # pinned\n"
        "  - image: \"nvcr.io/nvidia/a:2\"\n"
        "    name: b\n"
        "  - name: c\n    image: 'nvcr.io/nvidia/b:1'\n"
        "  - name: d\n    image: python:3.11-slim\n"
        "  - name: e\n    image: nvcr.io/nvidia/{{ tag }}\n"
    )
    assert nvcr_images(text) == ["nvcr.io/nvidia/a:2", "nvcr.io/nvidia/b:1"]


def test_parse_www_authenticate():
    parsed = parse_www_authenticate(CHALLENGE)
    assert parsed == {"scheme": "bearer", "realm": REALM, "service": "registry", "scope": "repository:nvidia/paidf-auto-labeling:pull"}
    assert parse_www_authenticate('Basic realm="x"')["scheme"] == "basic"


def test_anonymous_200_sends_the_v2_accept_header(router, http):
    route = router.get(MANIFEST).mock(return_value=httpx2.Response(200))
    probe = probe_image(IMAGE, http=http)
    assert (probe.http_status, probe.auth, probe.outcome) == (200, "anonymous", "ok")
    accept = route.calls.last.request.headers["accept"]
    assert accept == MANIFEST_ACCEPT and "application/vnd.docker.distribution.manifest.v2+json" in accept
    assert "authorization" not in route.calls.last.request.headers


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_401_token_flow_anonymous(router, http, field):
    router.get(MANIFEST, headers={"Authorization": "Bearer anon-tok"}).mock(return_value=httpx2.Response(200))
    router.get(MANIFEST).mock(return_value=httpx2.Response(401, headers={"Www-Authenticate": CHALLENGE}))
    token = router.get(REALM).mock(return_value=httpx2.Response(200, json={field: "anon-tok"}))
    probe = probe_image(IMAGE, http=http)
    assert probe.http_status == 200 and probe.auth == "anonymous"
    assert "authorization" not in token.calls.last.request.headers


def test_401_token_flow_with_the_key_uses_oauthtoken_basic_auth(router, http):
    router.get(MANIFEST, headers={"Authorization": "Bearer key-tok"}).mock(return_value=httpx2.Response(200))
    router.get(MANIFEST).mock(return_value=httpx2.Response(401, headers={"Www-Authenticate": CHALLENGE}))
    token = router.get(REALM).mock(return_value=httpx2.Response(200, json={"token": "key-tok"}))
    probe = probe_image(IMAGE, http=http, key=KEY)
    assert (probe.http_status, probe.auth) == (200, "credentialed")
    expected = "Basic " + base64.b64encode(f"$oauthtoken:{KEY}".encode()).decode()
    assert token.calls.last.request.headers["authorization"] == expected


def test_credentialed_denied_but_anonymous_ok_prefers_anonymous(router, http):
    def realm(request: httpx2.Request) -> httpx2.Response:
        if "authorization" in request.headers:
            return httpx2.Response(401)  # the key is refused...
        return httpx2.Response(200, json={"token": "anon"})  # ...but the image is public

    router.get(MANIFEST, headers={"Authorization": "Bearer anon"}).mock(return_value=httpx2.Response(200))
    router.get(MANIFEST).mock(return_value=httpx2.Response(401, headers={"Www-Authenticate": CHALLENGE}))
    router.get(REALM).mock(side_effect=realm)
    probe = probe_image(IMAGE, http=http, key=KEY)
    assert (probe.http_status, probe.auth, probe.outcome) == (200, "anonymous", "ok")


def test_credentialed_and_anonymous_denied_stays_denied(router, http):
    router.get(MANIFEST).mock(return_value=httpx2.Response(403))
    probe = probe_image(IMAGE, http=http, key=KEY)
    assert (probe.http_status, probe.auth, probe.outcome) == (403, "credentialed", "fail")
    assert probe.line == f"FAIL registry access denied for {IMAGE} (HTTP 403)"


def test_the_key_is_never_sent_to_a_plain_http_realm(router, http):
    challenge = 'Bearer realm="http://evil.example/token",service="registry"'
    router.get(MANIFEST).mock(return_value=httpx2.Response(401, headers={"Www-Authenticate": challenge}))
    token = router.get("http://evil.example/token").mock(return_value=httpx2.Response(401))
    probe_image(IMAGE, http=http, key=KEY)
    assert token.call_count >= 1
    assert all("authorization" not in call.request.headers for call in token.calls)


def test_a_failed_token_request_reports_401(router, http):
    router.get(MANIFEST).mock(return_value=httpx2.Response(401, headers={"Www-Authenticate": CHALLENGE}))
    router.get(REALM).mock(return_value=httpx2.Response(500))
    assert probe_image(IMAGE, http=http).http_status == 401


@pytest.mark.parametrize(("response", "code", "outcome", "line"), [
    (httpx2.Response(404), 404, "fail", f"FAIL image not found on the registry: {IMAGE} (HTTP 404)"),
    (httpx2.Response(502), 502, "fail", f"FAIL registry probe for {IMAGE} returned HTTP 502"),
    (httpx2.ConnectError("refused"), 0, "warn", f"WARN network error while probing {IMAGE} (HTTP 000)"),
    (httpx2.ReadTimeout("slow"), 0, "warn", f"WARN network error while probing {IMAGE} (HTTP 000)"),
])
def test_outcomes_and_lines(router, http, response, code, outcome, line):
    if isinstance(response, Exception):
        router.get(MANIFEST).mock(side_effect=response)
    else:
        router.get(MANIFEST).mock(return_value=response)
    probe = probe_image(IMAGE, http=http)
    assert (probe.http_status, probe.outcome, probe.line) == (code, outcome, line)


def _probe(code: int) -> RegistryProbe:
    outcome = "ok" if code == 200 else "warn" if code == 0 else "fail"
    return RegistryProbe(image=f"nvcr.io/x:{code}", http_status=code, auth="anonymous", outcome=outcome, line="")


@pytest.mark.parametrize(("codes", "outcome", "word"), [
    ([200, 401, 404], "fail", "tags"),
    ([200, 403, 502], "fail", "policy"),
    ([200, 502], "fail", "Retry"),
    ([200, 0], "warn", None),
    ([200, 200], "ok", None),
])
def test_verdict_precedence(codes, outcome, word):
    verdict = registry_verdict([_probe(c) for c in codes])
    assert verdict.outcome == outcome
    if word:
        assert word in verdict.remedy
    assert "nvapi" not in verdict.message + (verdict.remedy or "")  # rule no-key-prefix-rejection
