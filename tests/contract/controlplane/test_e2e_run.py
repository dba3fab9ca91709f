"""``vda run --backend osmo`` end to end against OSMO 6.3.1's real control plane: our preflight,
guard and submit against the real server (which validates and renders the shipped flow), a driver
thread standing in for the cluster (it runs every task the service schedules and writes the
outputs our workers would upload), then poll, stage from the local S3 and the side-by-side MEDIA line."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import httpx as httpx2
import pytest
import respx

from skill.storage import cache_urls, output_url
from tests.contract.controlplane.stack import BUCKET, POOL, ControlPlane, StackError

NIMS = ("qwen3-vl", "qwen25-14b")
STORAGE = f"s3://{BUCKET}/e2e"
DATASET = "vda-demo"
FLOW_NAME = "vda-demo"  # the shipped flows' workflow name prefix (ids are <name>-<n>)


def _outputs(clip: bytes, stems: tuple[str, ...] = ("clip",)) -> dict[str, bytes]:
    manifest = {"configs": [{"video_name": s, "aug_idx": 0, "config": f"{s}_aug0.yaml", "sampled_vars": {"weather": "rain"}} for s in stems]}
    status = json.dumps({"status": "completed", "degraded_stages": []}).encode()
    instances = json.dumps({"instances": {"car_1": {"object_type": "car"}}}).encode()
    files = {"setup_b0/configs/manifest.yaml": json.dumps(manifest).encode()}
    for stem in stems:
        files |= {
            f"setup_b0/configs/{stem}_aug0.yaml": b"data: []\n",
            f"outputs/augmented/{stem}_aug0/augmented_video.mp4": clip,
            f"outputs/pseudo_labeled_augmented/{stem}_aug0/contextual/instances.json": instances,
            f"outputs/pseudo_labeled_augmented/{stem}_aug0/sidecars/pipeline_status.json": status,
            f"outputs/pseudo_labeled/{stem}/contextual/instances.json": instances,
            f"outputs/pseudo_labeled/{stem}/sidecars/pipeline_status.json": status,
        }
    return files


class ClusterStandIn(threading.Thread):
    """Runs whatever the service schedules: once a workflow's pods exist, its outputs are written
    under its output prefix (run id and clips read from the rendered spec), then every task that has
    a pod goes RUNNING -> COMPLETED, until ``expected`` workflows have ended."""

    def __init__(self, plane: ControlPlane, storage: str, dataset: str, clip: bytes, *, expected: int = 1) -> None:
        super().__init__(daemon=True)
        self.plane, self.storage, self.dataset, self.clip, self.expected = plane, storage, dataset, clip, expected
        self.workflow_ids: list[str] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()

    @property
    def workflow_id(self) -> str | None:
        return self.workflow_ids[0] if self.workflow_ids else None

    def run(self) -> None:
        try:
            self._drive()
        except BaseException as exc:  # reported by the test, never swallowed
            self.error = exc

    def _start(self, workflow_id: str) -> None:
        spec = self.plane.cli("workflow", "spec", workflow_id)
        run_id = re.search(r"run-[0-9a-f]{8}", spec).group(0)
        clips = re.search(r'CLIPS: "?([A-Za-z0-9._,-]*)"?', spec)
        stems = tuple(clips.group(1).split(",")) if clips and clips.group(1) else ("clip",)
        prefix = output_url(self.storage, self.dataset, run_id).removeprefix(f"s3://{BUCKET}/")
        for rel, body in _outputs(self.clip, stems).items():
            self.plane.put_object(f"{prefix}/{rel}", body)
        self.workflow_ids.append(workflow_id)

    def _drive(self) -> None:
        done: dict[str, set[str]] = {}
        ended: set[str] = set()
        earlier: set[str] = set()  # workflows an earlier test ran (the control plane is shared)
        while not self.stop.is_set() and len(ended) < self.expected:
            pods = self.plane.agent_state().get("pods", [])
            for wid in sorted({p["labels"].get("osmo.workflow_id") or "" for p in pods} - set(done) - earlier):
                if not wid.startswith(FLOW_NAME):
                    continue
                if self.plane.query(wid)["status"] not in ("RUNNING", "PENDING"):
                    earlier.add(wid)
                    continue
                self._start(wid)
                done[wid] = set()
            for wid, tasks in done.items():
                if wid in ended:
                    continue
                query = self.plane.query(wid)
                if query["status"] not in ("RUNNING", "PENDING"):
                    ended.add(wid)
                    continue
                pods_of = self.plane.task_pods(wid, timeout=1)
                for task in [t["name"] for g in query["groups"] for t in g["tasks"]
                             if t["status"] in ("PROCESSING", "SCHEDULING", "INITIALIZING") and t["name"] in pods_of and t["name"] not in tasks]:
                    self.plane.run_task(wid, task)
                    tasks.add(task)
            time.sleep(0.5)


@pytest.fixture()
def clip(tmp_path) -> Path:
    from skill.engines.synthetic import make_scene

    path = tmp_path / "clip.mp4"
    make_scene(path, width=320, height=180, fps=10, seconds=2, seed=3, background="road")
    return path


def _vda_run_on_the_plane(controlplane, tmp_path: Path, monkeypatch, stems: tuple[str, ...], clip: bytes, *args: str, expected: int = 1):
    """``vda run --backend osmo`` on the dataset ``vda-demo`` holding ``stems``; the cluster stand-in
    runs what the service schedules. Returns (exit code, stand-in, kubectl double)."""
    from skill.backends.osmo import OsmoBackend
    from skill.secrets import forget_secrets
    from tests.fakes.kubectl import KubeDouble, deployment, endpoints, job, nimservice, pod
    from tools.cli import main as vda

    for stem in stems:
        controlplane.put_object(f"e2e/datasets/{DATASET}/{stem}.mp4", clip)
    for url in cache_urls(STORAGE).values():
        controlplane.put_object(f"{url.removeprefix(f's3://{BUCKET}/')}/weights.bin", b"cache marker")
    backend = OsmoBackend(str(controlplane.osmo))
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": "cp-fake-ngc-key"})
    home = tmp_path / "home"
    for name, value in {"VDA_OSMO_CLI": str(controlplane.osmo), "VDA_HOME": str(home), "HOME": str(home),
                        "HF_TOKEN": "hf_CANARYrunabcdefgh", "NGC_CONFIG_FILE": str(tmp_path / "none"),
                        "HF_TOKEN_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    for name in ("NGC_API_KEY", "NGC_CLI_API_KEY", "NVIDIA_API_KEY", "INFRA_SKILL_DIR"):
        monkeypatch.delenv(name, raising=False)
    # off-cluster, with a kube context that sees both NIMs healthy (the NIM gate's default, ensure)
    kube = KubeDouble(tmp_path / "kube", {"objects": {
        "nimservices": [nimservice(s) for s in NIMS], "deployments": [deployment(s) for s in NIMS],
        "pods": [pod(f"{s}-x", s) for s in NIMS], "endpoints": [endpoints(s) for s in NIMS],
        "jobs": [job(f"{s}-hf-download") for s in NIMS]}})
    monkeypatch.setenv("PATH", f"{kube.bin}:{os.environ['PATH']}")
    monkeypatch.setenv("KUBE_DOUBLE_SCENARIO", str(kube.scenario_path))

    driver = ClusterStandIn(controlplane, STORAGE, DATASET, clip, expected=expected)
    driver.start()
    try:
        with respx.mock(assert_all_called=False) as web:  # the HF and registry probes: the network edge
            web.route(host="127.0.0.1").pass_through()
            web.route().mock(return_value=httpx2.Response(200))
            code = vda(["run", "--backend", "osmo", "--dataset-url", f"{STORAGE}/datasets/{DATASET}", "--flow", "augmentation_and_al",
                        "--pool", POOL, "--json", *args])
    finally:
        driver.stop.set()
        driver.join(timeout=30)
        forget_secrets()
    if driver.error is not None:
        raise StackError(f"the cluster stand-in failed: {driver.error!r}")
    return code, driver, kube


def test_vda_run_on_the_real_control_plane_ends_with_the_side_by_side(controlplane, clip, tmp_path, monkeypatch, capsys):
    code, driver, kube = _vda_run_on_the_plane(controlplane, tmp_path, monkeypatch, ("clip",), clip.read_bytes())
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    result = json.loads(out)
    assert result["status"] == "COMPLETED" and result["workflow_id"] == driver.workflow_id
    run_dir = Path(result["local_run_dir"])
    staged = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert set(_outputs(b"")) | {"input/clip.mp4"} <= staged
    rendered = run_dir / "display" / f"{DATASET}_clip_aug0_compare.mp4"
    assert rendered.stat().st_size > 0
    assert any(str(rendered) in line for line in result["media_lines"])
    assert result["sampled_vars"] == {"clip_aug0": {"weather": "rain"}}
    assert any("healthy and reused" in line for line in result["statements"]), result["statements"]
    assert kube.calls() and all(argv[1] in ("get", "version") for argv in kube.calls())  # looked, deployed nothing


def test_a_many_clip_run_fans_out_into_batches_the_real_service_runs(controlplane, clip, tmp_path, monkeypatch, capsys):
    """Three clips at one config per batch: three workflows of the flow's usual shape, each with its
    clip, submitted through the real service (which renders and validates each), polled to the end,
    each clip staged from its own batch and rendered."""
    stems = ("alpha", "bravo", "charlie")
    code, driver, _ = _vda_run_on_the_plane(controlplane, tmp_path, monkeypatch, stems, clip.read_bytes(),
                                            "--batch-size", "1", "--augmentations", "1", "--max-in-flight", "2", "--timeout", "600",
                                            expected=3)
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    result = json.loads(out)
    assert result["status"] == "COMPLETED" and result["batches"] == 3 and result["workflow_id"] is None
    assert len(driver.workflow_ids) == 3
    specs = [controlplane.cli("workflow", "spec", wid) for wid in driver.workflow_ids]
    assert sorted(re.search(r'CLIPS: "?([a-z]+)', spec).group(1) for spec in specs) == list(stems)
    run_dir = Path(result["local_run_dir"])
    for index, stem in enumerate(stems):
        assert (run_dir / f"batch-{index:04d}" / "outputs" / "augmented" / f"{stem}_aug0" / "augmented_video.mp4").is_file()
    assert sorted(result["sampled_vars"]) == [f"{s}_aug0" for s in stems]
    assert len(result["media_lines"]) == 3
