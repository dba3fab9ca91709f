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

import pytest

from skill.storage import cache_urls, output_url
from tests.contract.controlplane.stack import BUCKET, POOL, ControlPlane, StackError

NIMS = ("qwen3-vl", "qwen25-14b")
FLOW_NAME = "vda-demo"  # the shipped flows' workflow name prefix (ids are <name>-<n>)


def _outputs(clip: bytes) -> dict[str, bytes]:
    manifest = {"configs": [{"video_name": "clip", "aug_idx": 0, "config": "clip_aug0.yaml", "sampled_vars": {"weather": "rain"}}]}
    status = json.dumps({"status": "completed", "degraded_stages": []}).encode()
    instances = json.dumps({"instances": {"car_1": {"object_type": "car"}}}).encode()
    return {
        "setup_b0/configs/manifest.yaml": json.dumps(manifest).encode(), "setup_b0/configs/clip_aug0.yaml": b"data: []\n",
        "outputs/augmented/clip_aug0/augmented_video.mp4": clip,
        "outputs/pseudo_labeled_augmented/clip_aug0/contextual/instances.json": instances,
        "outputs/pseudo_labeled_augmented/clip_aug0/sidecars/pipeline_status.json": status,
        "outputs/pseudo_labeled/clip/contextual/instances.json": instances,
        "outputs/pseudo_labeled/clip/sidecars/pipeline_status.json": status,
    }


class ClusterStandIn(threading.Thread):
    """Runs whatever the service schedules for one workflow: once its pods exist, the run's outputs
    are written under its output prefix (read from the rendered spec), then every task that has a
    pod goes RUNNING -> COMPLETED, until the workflow is COMPLETED."""

    def __init__(self, plane: ControlPlane, storage: str, dataset: str, clip: bytes) -> None:
        super().__init__(daemon=True)
        self.plane, self.storage, self.dataset, self.clip = plane, storage, dataset, clip
        self.workflow_id: str | None = None
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self._drive()
        except BaseException as exc:  # reported by the test, never swallowed
            self.error = exc

    def _drive(self) -> None:
        while not self.stop.is_set() and self.workflow_id is None:
            pods = self.plane.agent_state().get("pods", [])
            ids = {p["labels"].get("osmo.workflow_id") for p in pods}
            self.workflow_id = next((i for i in ids if i and i.startswith(FLOW_NAME)), None)
            time.sleep(0.5)
        if self.workflow_id is None:
            return
        spec = self.plane.cli("workflow", "spec", self.workflow_id)
        run_id = re.search(r"run-[0-9a-f]{8}", spec).group(0)
        prefix = output_url(self.storage, self.dataset, run_id).removeprefix(f"s3://{BUCKET}/")
        for rel, body in _outputs(self.clip).items():
            self.plane.put_object(f"{prefix}/{rel}", body)
        done: set[str] = set()
        while not self.stop.is_set():
            query = self.plane.query(self.workflow_id)
            if query["status"] != "RUNNING" and query["status"] != "PENDING":
                return
            pods = self.plane.task_pods(self.workflow_id, timeout=1)
            for task in [t["name"] for g in query["groups"] for t in g["tasks"]
                         if t["status"] in ("PROCESSING", "SCHEDULING", "INITIALIZING") and t["name"] in pods and t["name"] not in done]:
                self.plane.run_task(self.workflow_id, task)
                done.add(task)
            time.sleep(0.5)


@pytest.fixture()
def clip(tmp_path) -> Path:
    from skill.engines.synthetic import make_scene

    path = tmp_path / "clip.mp4"
    make_scene(path, width=320, height=180, fps=10, seconds=2, seed=3, background="road")
    return path


def test_vda_run_on_the_real_control_plane_ends_with_the_side_by_side(controlplane, clip, tmp_path, monkeypatch, capsys):
    import httpx as httpx2
    import respx

    from skill.backends.osmo import OsmoBackend
    from skill.secrets import forget_secrets
    from tools.cli import main as vda

    storage = f"s3://{BUCKET}/e2e"
    dataset = "vda-demo"
    controlplane.put_object(f"e2e/datasets/{dataset}/clip.mp4", clip.read_bytes())
    for url in cache_urls(storage).values():
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
    from tests.fakes.kubectl import KubeDouble, deployment, endpoints, job, nimservice, pod

    kube = KubeDouble(tmp_path / "kube", {"objects": {
        "nimservices": [nimservice(s) for s in NIMS], "deployments": [deployment(s) for s in NIMS],
        "pods": [pod(f"{s}-x", s) for s in NIMS], "endpoints": [endpoints(s) for s in NIMS],
        "jobs": [job(f"{s}-hf-download") for s in NIMS]}})
    monkeypatch.setenv("PATH", f"{kube.bin}:{os.environ['PATH']}")
    monkeypatch.setenv("KUBE_DOUBLE_SCENARIO", str(kube.scenario_path))

    driver = ClusterStandIn(controlplane, storage, dataset, clip.read_bytes())
    driver.start()
    try:
        with respx.mock(assert_all_called=False) as web:  # the HF and registry probes: the network edge
            web.route(host="127.0.0.1").pass_through()
            web.route().mock(return_value=httpx2.Response(200))
            code = vda(["run", "--backend", "osmo", "--dataset-url", f"{storage}/datasets/{dataset}", "--flow", "augmentation_and_al",
                        "--pool", POOL, "--json"])
    finally:
        driver.stop.set()
        driver.join(timeout=30)
        forget_secrets()
    if driver.error is not None:
        raise StackError(f"the cluster stand-in failed: {driver.error!r}")
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    result = json.loads(out)
    assert result["status"] == "COMPLETED" and result["workflow_id"] == driver.workflow_id
    run_dir = Path(result["local_run_dir"])
    staged = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert set(_outputs(b"")) | {"input/clip.mp4"} <= staged
    rendered = run_dir / "display" / f"{dataset}_clip_aug0_compare.mp4"
    assert rendered.stat().st_size > 0
    assert any(str(rendered) in line for line in result["media_lines"])
    assert result["sampled_vars"] == {"clip_aug0": {"weather": "rain"}}
    assert any("healthy and reused" in line for line in result["statements"]), result["statements"]
    assert kube.calls() and all(argv[1] in ("get", "version") for argv in kube.calls())  # looked, deployed nothing
