"""A many-clip run fanned out into batches (issue 17), on the local backend, for real.

Through MCP: the guard passes once for the run's values, ``submit`` with ``max_in_flight`` plans the
batches and places the first ones, ``poll`` with the run id reports progress over batches (never
submitting), ``submit`` again places the queued ones, and ``stage_artifacts`` stages each clip from its
batch once it is done (and says which batch is not, before). Through ``run_pipeline`` (``vda run
--max-in-flight``): the same run end to end, staged and rendered per batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from skill.backends.local import LocalBackend
from skill.engines.synthetic import make_scene
from skill.fanout import attempt_run_id
from skill.ledger import Ledger
from skill.pipeline import RunRequest, run_pipeline
from tools.mcp_server import build_server

FLOW = "augmentation_and_al"
STEMS = ("east", "north", "west")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def clips(home: Path) -> Path:
    folder = home / "clips"
    for seed, stem in enumerate(STEMS):
        make_scene(folder / f"{stem}.mp4", width=160, height=96, fps=10, seconds=1, seed=seed, background="road")
    return folder


async def _call(client: Client, name: str, args: dict[str, Any], *, error: bool = False) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert result.is_error == error, (name, [getattr(b, "text", "") for b in result.content])
    return result.structured_content


@pytest.mark.anyio
async def test_mcp_fans_out_polls_batches_and_stages_each_clip_from_its_batch(home: Path, clips: Path):
    ledger = Ledger(home / "ledger.sqlite")
    server = build_server(backend=LocalBackend(root=home / "be"), ledger=ledger)
    storage = str(home / "be" / "storage" / "local")
    async with Client(server, raise_exceptions=True) as client:
        await _call(client, "select_flow", {"text": f"augment my videos in {clips}"})
        checked = await _call(client, "preflight", {"workflow": FLOW, "no_probe": True})
        await _call(client, "upload_dataset", {"folder": str(clips), "storage_url": storage, "name": "many"})
        values = {
            "flow": FLOW, "dataset": "many", "storage_url": storage, "gpu_platform": checked["platforms"][0], "video": STEMS[0],
            "cosmos_model_cache_url": f"{storage}/data/models/cosmos_transfer", "all_clips": True, "n_augmentations": 1,
            "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling",
        }
        guard = await _call(client, "pre_submit_guard", values)
        if guard["status"] == "cache_missing":
            cache = await _call(client, "setup_model_cache", guard["remediation"]["set_string"])
            await _call(client, "poll", {"workflow_id": cache["workflow_id"], "wait": True, "interval_s": 1, "max_interval_s": 1})
            guard = await _call(client, "pre_submit_guard", values)
        assert guard["status"] == "ok"
        run_id = guard["run_id"]
        fanned = {**values, "run_id": run_id, "max_in_flight": 2, "batch_size": 1}

        first = await _call(client, "submit", fanned)
        assert first["workflow_id"] == run_id and "3 batch(es)" in first["message"] and "1 queued" in first["message"]
        early = await _call(client, "stage_artifacts", {"storage_url": storage, "dataset": "many", "run_id": run_id, "video": STEMS[2]}, error=True)
        assert early["error"]["code"] == "not-found" and "Batch 2" in early["error"]["message"]

        seen_statuses: set[str] = set()
        for _ in range(60):
            polled = await _call(client, "poll", {"workflow_id": run_id, "wait": True, "timeout_s": 20, "interval_s": 1})
            assert [t["name"] for t in polled["tasks"]] == ["batch-0000", "batch-0001", "batch-0002"]
            seen_statuses |= {t["status"] for t in polled["tasks"]}
            if polled["terminal"]:
                break
            if "queued" in (polled["next"] or ""):
                await _call(client, "submit", fanned)  # advances: places the queued batch
        assert polled["status"] == "COMPLETED" and not polled["failed"]
        assert "WAITING" in seen_statuses and "COMPLETED" in seen_statuses  # the third batch waited for a slot

        staged = await _call(client, "stage_artifacts", {"storage_url": storage, "dataset": "many", "run_id": run_id, "video": STEMS[1]})
        assert staged["local_run_dir"].endswith(f"{run_id}/batch-0001")
        assert list(staged["augmented_videos"]) == [f"{STEMS[1]}_aug0"]
        compared = await _call(client, "render_side_by_side", {"run_local_dir": staged["local_run_dir"], "dataset": "many", "video": STEMS[1]})
        assert Path(compared["media_line"].removeprefix("MEDIA:")).is_file()

    attempts = [ledger.get(attempt_run_id(run_id, i, 1)) for i in range(3)]
    assert [a.status for a in attempts] == ["COMPLETED"] * 3
    assert [a.values["clips"] for a in attempts] == list(STEMS)
    assert ledger.get(run_id).status == "COMPLETED"
    ledger.close()


def test_vda_run_with_max_in_flight_runs_stages_and_renders_every_batch(home: Path, clips: Path):
    events = []
    with Ledger(home / "ledger.sqlite") as ledger:
        result = run_pipeline(RunRequest(folder=str(clips), flow="e2e", augmentations=1, batch_size=1, max_in_flight=2, timeout_s=300),
                              backend=LocalBackend(root=home / "be"), ledger=ledger, emit=events.append)
        parent = ledger.get(result.run_id)
    assert result.status == "COMPLETED", result.failed_tasks
    assert result.batches == 3 and result.workflow_id is None and parent.status == "COMPLETED"
    assert sorted(result.augmented_labels) == [f"{s}_aug0" for s in STEMS]
    assert sorted(result.original_labels) == list(STEMS)  # each batch labels its own original clip
    assert len(result.media_lines) == 3
    assert all(f"{result.run_id}/batch-000" in line for line in result.media_lines)
    # every task of a batch downloaded only that batch's clip (the dataset input's regex)
    workflows = sorted((home / "be" / "workflows").iterdir())
    assert len(workflows) == 3
    for workflow in workflows:
        downloaded = {p.name for p in workflow.glob("tasks/*/inputs/*/*.mp4")}
        assert len(downloaded) == 1 and downloaded <= {f"{s}.mp4" for s in STEMS}, (workflow.name, downloaded)
    progress = [e.message for e in events if e.stage == "fanout"]
    assert progress[0].startswith("3 clip(s) in 3 batch(es)") and "at most 2 in flight" in progress[0]
    assert progress[-1].startswith("3/3 batches done")


def test_one_batch_is_still_one_workflow(home: Path, clips: Path):
    with Ledger(home / "ledger.sqlite") as ledger:
        result = run_pipeline(RunRequest(videos=[str(clips / "east.mp4")], flow="augmentation_and_al", augmentations=1, max_in_flight=4, timeout_s=300),
                              backend=LocalBackend(root=home / "be"), ledger=ledger)
    assert result.status == "COMPLETED" and result.batches is None and result.workflow_id


class _Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_keeping_what_ran(home: Path, clips: Path):
    """The driving process stops while the first batch runs (as a Ctrl-C would); resuming keeps that
    batch's workflow (polled, not submitted again), runs the other two, then stages every clip."""
    from skill.pipeline import resume_pipeline
    from skill.steps.batches import PLAN_KEY

    def stop_once_running(event) -> None:
        if event.stage == "fanout" and event.data.get("running"):
            raise _Interrupted

    backend = LocalBackend(root=home / "be")
    with Ledger(home / "ledger.sqlite") as ledger:
        with pytest.raises(_Interrupted):
            run_pipeline(RunRequest(folder=str(clips), flow="augmentation_and_al", augmentations=1, batch_size=1, max_in_flight=1, timeout_s=300),
                         backend=backend, ledger=ledger, emit=stop_once_running)
        parent = next(r for r in ledger.list() if PLAN_KEY in r.values)
        first = ledger.get(attempt_run_id(parent.run_id, 0, 1))
        assert first.workflow_id and ledger.get(attempt_run_id(parent.run_id, 1, 1)) is None
        result = resume_pipeline(parent.run_id, backend=backend, ledger=ledger, timeout_s=300)
        attempts = [ledger.get(attempt_run_id(parent.run_id, i, 1)) for i in range(3)]
        assert ledger.get(attempt_run_id(parent.run_id, 0, 2)) is None  # the running batch was not submitted twice
    assert result.status == "COMPLETED" and result.batches == 3
    assert attempts[0].workflow_id == first.workflow_id and all(a.status == "COMPLETED" for a in attempts)
    assert sorted(result.augmented_labels) == [f"{s}_aug0" for s in STEMS] and len(result.media_lines) == 3


def test_resuming_what_is_not_a_fanned_out_run_is_a_clear_error(home: Path):
    from skill.errors import NotFound
    from skill.pipeline import resume_pipeline

    with Ledger(home / "ledger.sqlite") as ledger, pytest.raises(NotFound) as caught:
        resume_pipeline("run-0badc0de", backend=LocalBackend(root=home / "be"), ledger=ledger)
    assert "run-0badc0de" in caught.value.message and caught.value.remedy
