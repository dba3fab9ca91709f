"""The policy gate through MCP: for every call-level rule of POLICY.md (and eta-before-mutation, judged
on the run state) a call that breaks it is refused with ``[rule-id] ... Next: ...`` and nothing runs,
and the canonical call succeeds. The backend is the scripted FakeBackend (steps run for real)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import respx
from mcp import Client

from skill.ledger import Ledger
from skill.policy import DEMO_REPO, RULES
from tests.fakes.backend import FakeBackend
from tools.mcp_server import build_server

FLOW = "augmentation_and_al"
STORAGE = "s3://bkt/p"
TOKEN = "nvapi-" + "Kq" * 12  # token-shaped, never a real key
VALUES: dict[str, Any] = {
    "flow": FLOW, "dataset": "ds", "storage_url": STORAGE, "gpu_platform": "gpu", "video": "clip",
    "cosmos_model_cache_url": f"{STORAGE}/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": f"{STORAGE}/data/models/auto_labeling",
}
USER_TEXT = f"augment the videos in {STORAGE}/datasets/ds"


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", "hf_" + "Pq" * 10)
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "no-token-file"))


def fake_backend(*, caches: bool = True) -> FakeBackend:
    objects = {f"{STORAGE}/datasets/ds/clip.mp4": b"v", f"{STORAGE}/datasets/ds/other.mp4": b"v"}
    if caches:
        objects.update({f"{STORAGE}/data/models/{m}/weights.bin": b"w" for m in ("cosmos_transfer", "auto_labeling")})
    return FakeBackend(objects=objects)


class Session:
    """One MCP client session against a fresh server."""

    def __init__(self, client: Client, fake: FakeBackend) -> None:
        self.client, self.fake = client, fake

    async def raw(self, name: str, req: dict[str, Any]):
        return await self.client.call_tool(name, {"req": req})

    async def ok(self, name: str, req: dict[str, Any]) -> dict[str, Any]:
        result = await self.raw(name, req)
        assert not result.is_error, f"{name}: {text_of(result)}"
        return result.structured_content

    async def start(self, text: str = USER_TEXT) -> None:
        await self.ok("select_flow", {"text": text})

    async def prepared(self, text: str = USER_TEXT) -> str:
        """select_flow, preflight and a passing guard; returns the guard's run id."""
        await self.start(text)
        assert (await self.ok("preflight", {"workflow": FLOW, "no_probe": True}))["status"] == "ok"
        guard = await self.ok("pre_submit_guard", VALUES)
        assert guard["status"] == "ok", guard
        return guard["run_id"]


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def assert_denied(result: Any, rule: str) -> str:
    text = text_of(result)
    assert result.is_error, text
    assert f"[{rule}] " in text and "Next: " in text, text
    errors = (result.structured_content or {}).get("errors") or []
    assert rule in [e["rule"] for e in errors] and all(e["message"] and e["remedy"] for e in errors), (result.structured_content, text)
    return text


# --- one scenario per rule: (denied, canonical) -------------------------------------------------------


async def single_set_string(s: Session) -> None:
    run_id = await s.prepared()
    assert_denied(await s.raw("submit", {**VALUES, "run_id": run_id, "set": ["dataset=ds"]}), "single-set-string")
    assert not s.fake.submitted
    await s.ok("submit", {**VALUES, "run_id": run_id})


async def no_demo_substitution(s: Session) -> None:
    await s.start(f"augment my videos in {STORAGE}/datasets/ds")
    text = assert_denied(await s.raw("prepare_demo_assets", {}), "no-demo-substitution")
    assert "upload_dataset" in text or "dataset URL" in text
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    assert (await s.ok("pre_submit_guard", VALUES))["status"] == "ok"


async def vda_demo_only(s: Session, tmp_path: Path) -> None:
    await s.start("augment some demo videos")
    assert_denied(await s.raw("prepare_demo_assets", {"repo": "someone/other-videos", "demo_dir": str(tmp_path / "d")}), "vda-demo-only")
    api = f"https://huggingface.co/api/datasets/{DEMO_REPO}/tree/main"
    with respx.mock(assert_all_called=True) as mock:
        mock.get(api).respond(200, json=[{"type": "file", "path": "a.mp4", "size": 3, "oid": "x"}])
        mock.get(f"https://huggingface.co/datasets/{DEMO_REPO}/resolve/main/a.mp4").respond(200, content=b"abc")
        demo = await s.ok("prepare_demo_assets", {"demo_dir": str(tmp_path / "home" / "media" / "vda" / "inputs" / "d")})  # under the inputs root
    assert [f["name"] for f in demo["files"]] == ["a.mp4"]


async def no_invented_video(s: Session) -> None:
    await s.start("augment the demo videos")
    invented = "https://videos.example.com/stock/highway.mp4"
    assert_denied(await s.raw("pre_submit_guard", {**VALUES, "vlm_url": invented}), "no-invented-video")
    # the user's own video URL, named in their request, is theirs to use
    s2_text = f"augment {invented}"
    await s.ok("select_flow", {"text": s2_text})
    result = await s.raw("pre_submit_guard", {**VALUES, "vlm_url": invented})
    assert "[no-invented-video]" not in text_of(result)


async def storage_url_derived(s: Session) -> None:
    await s.start()
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    stale = {**VALUES, "storage_url": "s3://guessed-bucket", "cosmos_model_cache_url": "s3://guessed-bucket/data/models/cosmos_transfer",
             "auto_labeling_model_cache_url": "s3://guessed-bucket/data/models/auto_labeling"}
    assert_denied(await s.raw("pre_submit_guard", stale), "storage-url-derived")
    assert (await s.ok("pre_submit_guard", VALUES))["status"] == "ok"


async def explicit_cache_urls(s: Session) -> None:
    run_id = await s.prepared()
    bare = {k: v for k, v in VALUES.items() if not k.endswith("_cache_url")}
    assert_denied(await s.raw("submit", {**bare, "run_id": run_id}), "explicit-cache-urls")
    assert not s.fake.submitted
    await s.ok("submit", {**VALUES, "run_id": run_id})


async def gpu_platform_from_pool(s: Session) -> None:
    run_id = await s.prepared()
    guessed = {**VALUES, "gpu_platform": "microk8s"}
    await s.ok("pre_submit_guard", {**guessed, "run_id": run_id})  # guarded, so only the platform is wrong
    assert_denied(await s.raw("submit", {**guessed, "run_id": run_id}), "gpu-platform-from-pool")
    assert not s.fake.submitted
    await s.ok("submit", {**VALUES, "run_id": run_id})


async def preflight_before_submit(s: Session) -> None:
    await s.start()
    guard = await s.ok("pre_submit_guard", VALUES)
    assert_denied(await s.raw("submit", {**VALUES, "run_id": guard["run_id"]}), "preflight-before-submit")
    assert not s.fake.submitted
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    await s.ok("submit", {**VALUES, "run_id": guard["run_id"]})


async def guard_before_submit(s: Session) -> None:
    await s.start()
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    assert_denied(await s.raw("submit", {**VALUES, "run_id": "run-0badf00d"}), "guard-before-submit")
    guard = await s.ok("pre_submit_guard", VALUES)
    other_video = await s.raw("submit", {**VALUES, "video": "other", "run_id": guard["run_id"]})
    assert_denied(other_video, "guard-before-submit")  # a guard covers exactly its values
    assert not s.fake.submitted
    await s.ok("submit", {**VALUES, "run_id": guard["run_id"]})


async def eta_before_mutation(s: Session) -> None:
    # preflight sets missing OSMO credentials: it is the first mutation, refused before the ETA
    assert_denied(await s.raw("preflight", {"workflow": FLOW, "no_probe": True}), "eta-before-mutation")
    assert not s.fake.credential_sets and not s.fake.submitted
    await s.start()
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    await s.ok("setup_model_cache", {"storage_url": STORAGE, "path": "data"})


async def cache_remediation(s: Session) -> None:
    await s.start()
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    guard = await s.ok("pre_submit_guard", VALUES)
    assert guard["status"] == "cache_missing"
    text = assert_denied(await s.raw("submit", {**VALUES, "run_id": guard["run_id"]}), "cache-remediation")
    assert "setup_model_cache" in text
    fix = guard["remediation"]["set_string"]
    await s.ok("setup_model_cache", fix)
    for m in ("cosmos_transfer", "auto_labeling"):  # what the cache workflow would have written
        s.fake.objects[f"{STORAGE}/data/models/{m}/weights.bin"] = b"w"
    guard = await s.ok("pre_submit_guard", VALUES)
    assert guard["status"] == "ok"
    await s.ok("submit", {**VALUES, "run_id": guard["run_id"]})


async def external_endpoints_opt_in(s: Session) -> None:
    await s.start()
    external = {**VALUES, "vlm_url": "https://vlm.example.org/v1"}
    assert_denied(await s.raw("pre_submit_guard", external), "external-endpoints-opt-in")
    await s.ok("select_flow", {"text": f"{USER_TEXT}, and use my own VLM endpoint https://vlm.example.org/v1"})
    result = await s.raw("pre_submit_guard", external)
    assert "[external-endpoints-opt-in]" not in text_of(result)


async def no_secret_echo(s: Session) -> None:
    await s.start()
    text = assert_denied(await s.raw("pre_submit_guard", {**VALUES, "llm_url": f"https://llm.internal/v1?key={TOKEN}"}), "no-secret-echo")
    assert TOKEN not in text
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    assert (await s.ok("pre_submit_guard", VALUES))["status"] == "ok"


async def run_id_format(s: Session) -> None:
    run_id = await s.prepared()
    assert_denied(await s.raw("submit", {**VALUES, "run_id": "RUN-12"}), "run-id-format")
    await s.ok("submit", {**VALUES, "run_id": run_id})
    # a submitted run id is stale for a new submit
    assert_denied(await s.raw("submit", {**VALUES, "video": "other", "run_id": run_id}), "run-id-format")
    assert len(s.fake.submitted) == 1


async def video_basename(s: Session) -> None:
    await s.start()
    await s.ok("preflight", {"workflow": FLOW, "no_probe": True})
    for bad in ("clips/clip.mp4", "clip.mp4", "../clip"):
        assert_denied(await s.raw("pre_submit_guard", {**VALUES, "video": bad}), "video-basename")
    assert (await s.ok("pre_submit_guard", VALUES))["status"] == "ok"


SCENARIOS: dict[str, Callable[..., Awaitable[None]]] = {
    "single-set-string": single_set_string,
    "no-demo-substitution": no_demo_substitution,
    "vda-demo-only": vda_demo_only,
    "no-invented-video": no_invented_video,
    "storage-url-derived": storage_url_derived,
    "explicit-cache-urls": explicit_cache_urls,
    "gpu-platform-from-pool": gpu_platform_from_pool,
    "preflight-before-submit": preflight_before_submit,
    "guard-before-submit": guard_before_submit,
    "eta-before-mutation": eta_before_mutation,
    "cache-remediation": cache_remediation,
    "external-endpoints-opt-in": external_endpoints_opt_in,
    "no-secret-echo": no_secret_echo,
    "run-id-format": run_id_format,
    "video-basename": video_basename,
}


def test_every_call_rule_has_a_scenario():
    call_rules = {rule_id for rule_id, rule in RULES.items() if "call" in rule.judged_on or "run state" in rule.judged_on}
    # nim_ensure takes no service list (the allow-list is fixed by construction), so no MCP call can
    # break nim-allow-list; it is judged on calls in tests/unit/test_policy.py and on commands in
    # tests/unit/test_policy_commands.py.
    not_reachable_over_mcp = {"nim-allow-list"}
    assert call_rules - not_reachable_over_mcp == set(SCENARIOS)


@pytest.mark.anyio
@pytest.mark.parametrize("rule", sorted(SCENARIOS))
async def test_rule_denies_then_the_canonical_call_succeeds(rule: str, tmp_path: Path):
    fake = fake_backend(caches=rule != "cache-remediation")
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        async with Client(build_server(backend=fake, ledger=ledger)) as client:
            scenario = SCENARIOS[rule]
            session = Session(client, fake)
            if rule == "vda-demo-only":
                await scenario(session, tmp_path)
            else:
                await scenario(session)


@pytest.mark.anyio
async def test_a_denied_call_does_not_change_the_run_state(tmp_path: Path):
    fake = fake_backend()
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        server = build_server(backend=fake, ledger=ledger)
        async with Client(server) as client:
            s = Session(client, fake)
            await s.start()
            assert_denied(await s.raw("pre_submit_guard", {**VALUES, "vlm_url": "https://vlm.example.org/v1"}), "external-endpoints-opt-in")
            # the refused guard did not count: submitting its values still needs a guard (and a preflight)
            result = await s.raw("submit", {**VALUES, "vlm_url": "https://vlm.example.org/v1", "run_id": "run-0a0b0c0d"})
    text = text_of(result)
    assert "[guard-before-submit]" in text and "[preflight-before-submit]" in text
    assert server.session_states.default.guarded_hashes == set()
