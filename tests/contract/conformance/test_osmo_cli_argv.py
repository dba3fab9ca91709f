"""Every argv OsmoBackend builds parses with OSMO 6.3.1's own ``create_cli_parser()``.

The backend runs for real with an injected runner that records each argv (and, for
``credential set``, what the payload files held while the CLI could read them) and answers with
the CLI's output shapes. The recorded lists then go, in one subprocess of VDA_OSMO_PYTHON, through
OSMO's parser (``osmo_argv_driver.py``). Checked: each parses to the intended module/command,
every ``data list`` is recursive, credential values travel only through ``--payload-file``, and
no secret value appears in any argv.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from skill.backends.osmo import OsmoBackend
from skill.models import FLOWS
from skill.paths import workflow_path
from skill.render import render_workflow

DRIVER = Path(__file__).with_name("osmo_argv_driver.py")
WORKFLOWS = (*FLOWS, "setup_model_cache", "augmentation_and_pl")  # the six files under assets/configs/osmo
SECRETS = {"ngc": "nvapi-CANARYconformance0123456789", "hf": "hf_CANARYconformanceabcdef", "s3": "CANARYs3secretkey42"}
VALUES = {
    "dataset": "vda-demo", "run_id": "run-1a2b3c4d", "storage_url": "s3://bucket/pre", "gpu_platform": "gpu",
    "video": "clip", "cosmos_model_cache_url": "s3://bucket/pre/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "s3://bucket/pre/data/models/auto_labeling", "skills_dir": "/opt/skill",
}
ANSWERS = {
    ("workflow", "submit"): '{"name": "vda-demo-1", "overview": "https://osmo.example.com/workflows/vda-demo-1"}',
    ("workflow", "query"): '{"name": "vda-demo-1", "status": "RUNNING", "groups": []}',
    ("workflow", "logs"): "Workflow vda-demo-1 has logs:\n2026/06/01 10:00:00 [setup] ok",
    ("workflow", "cancel"): '{"name": "vda-demo-1"}',
    ("data", "list"): "pre/datasets/vda-demo/clip.mp4\n\nTotal 1 objects found",
    ("pool", "list"): '{"node_sets": [{"pools": [{"name": "p", "status": "ONLINE", "platforms": {}}]}]}',
    ("credential", "list"): '{"credentials": []}',
    ("config", "show"): "{}",
    ("version",): '{"client": {"major": "6", "minor": "3", "revision": "1"}}',
}


class Recorder:
    """``runner(argv, *, timeout)``: records argv, reads payload files while they exist, answers."""

    def __init__(self, *, legacy_list: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.payload_files: list[tuple[str, str, int]] = []  # (key, contents, mode)
        self.legacy_list = legacy_list

    def __call__(self, argv, *, timeout):
        argv = list(argv)
        self.calls.append(argv)
        words = [a for a in argv[1:] if not a.startswith("-") and a != "json"]
        if argv[1:3] == ["credential", "set"]:
            at = argv.index("--payload-file")
            for item in argv[at + 1:]:
                key, _, path = item.partition("=")
                self.payload_files.append((key, Path(path).read_text(encoding="utf-8"), stat.S_IMODE(os.stat(path).st_mode)))
            return subprocess.CompletedProcess(argv, 0, f"Set {argv[argv.index('--type') + 1]} credential {argv[3]}.\n", "")
        if self.legacy_list and argv[1:3] == ["data", "list"] and "--no-pager" in argv:
            return subprocess.CompletedProcess(argv, 2, "", "osmo: error: unrecognized arguments: --no-pager\n")
        key = tuple(words[:1]) if words[:1] == ["version"] else tuple(words[:2])
        return subprocess.CompletedProcess(argv, 0, ANSWERS.get(key, ""), "")


def drive(tmp_path: Path) -> Recorder:
    """Every backend call once (submit for each workflow, with and without --set)."""
    rec = Recorder()
    backend = OsmoBackend("osmo", runner=rec, sleep=lambda _: None)
    for name in WORKFLOWS:
        backend.submit(render_workflow(workflow_path(name), set_string=VALUES), pool="gpu-pool")
    backend.submit(render_workflow(workflow_path("augmentation_and_al"), set_string=VALUES, set_values={"workers": "3"}))
    backend.query("vda-demo-1")
    backend.logs("vda-demo-1", task="setup", last_n=50)
    backend.logs("vda-demo-1")
    backend.cancel("vda-demo-1")
    backend.data_list("s3://bucket/pre/datasets/vda-demo")
    backend.data_download("s3://bucket/pre/datasets/vda-demo/clip.mp4", tmp_path / "down")
    upload = tmp_path / "up.mp4"
    upload.write_bytes(b"x")
    backend.data_upload("s3://bucket/pre/datasets/vda-demo", [upload])
    backend.pools()
    backend.credentials()
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": SECRETS["ngc"]})
    backend.set_credential("hf_token", "GENERIC", {"token": SECRETS["hf"], "HF_TOKEN": SECRETS["hf"]})
    backend.set_credential("s3_data", "DATA", {"access_key_id": "AKIDEXAMPLE", "access_key": SECRETS["s3"], "endpoint": "s3://bucket"})
    backend.config_show("POD_TEMPLATE")
    backend.version()
    legacy = Recorder(legacy_list=True)
    OsmoBackend("osmo", runner=legacy, sleep=lambda _: None).data_list("s3://bucket/pre/datasets/vda-demo")
    rec.calls += legacy.calls
    return rec


def osmo_parse(python: Path, source: Path, argv_lists: list[list[str]], home: Path) -> list[dict]:
    done = subprocess.run(
        [str(python), str(DRIVER), str(source)], input=json.dumps(argv_lists), capture_output=True, text=True, timeout=300,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def parsed(osmo_python: Path, osmo_source: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("argv")
    rec = drive(tmp)
    argv_lists = [argv[1:] for argv in rec.calls]
    return rec, list(zip(argv_lists, osmo_parse(osmo_python, osmo_source, argv_lists, tmp / "home")))


def test_every_command_is_covered(parsed):
    rec, pairs = parsed
    commands = {tuple(a for a in argv if not a.startswith("-") and a != "json")[:2] for argv, _ in pairs}
    wanted = {("workflow", "submit"), ("workflow", "query"), ("workflow", "logs"), ("workflow", "cancel"), ("data", "list"),
              ("data", "download"), ("data", "upload"), ("pool", "list"), ("credential", "list"), ("credential", "set"),
              ("config", "show")}
    assert wanted <= commands and any(argv[:1] == ["version"] for argv, _ in pairs)
    assert len(pairs) == len(rec.calls) == len(WORKFLOWS) + 1 + 16  # submits + the other calls (two of them legacy lists)


def test_every_argv_parses_with_osmos_own_parser(parsed):
    _, pairs = parsed
    failures = [(argv, result["error"]) for argv, result in pairs if not result["ok"]]
    assert failures == []
    for argv, result in pairs:
        assert result["args"]["module"] == argv[0]


def test_every_data_list_is_recursive(parsed):
    _, pairs = parsed
    lists = [result["args"] for argv, result in pairs if argv[:2] == ["data", "list"]]
    assert len(lists) == 3  # the backend's listing and the legacy build's two tries
    assert all(args["recursive"] is True and args["command"] == "list" for args in lists)
    assert [args["no_pager"] for args in lists] == [True, True, False]


def test_submit_values_land_in_one_set_string(parsed):
    _, pairs = parsed
    submits = [result["args"] for argv, result in pairs if argv[:2] == ["workflow", "submit"]]
    assert len(submits) == len(WORKFLOWS) + 1
    for args in submits:
        assert args["format_type"] == "json" and Path(args["workflow_file"]).is_file()
        assert {item.split("=", 1)[0] for item in args["set_string"]} >= {"dataset", "run_id", "storage_url"}
    assert [args["set"] for args in submits if args["set"]] == [["workers=3"]]


def test_credential_values_travel_only_in_payload_files(parsed):
    rec, pairs = parsed
    sets = [result["args"] for argv, result in pairs if argv[:2] == ["credential", "set"]]
    assert [(args["name"], args["type"]) for args in sets] == [("nvcr_io", "REGISTRY"), ("hf_token", "GENERIC"), ("s3_data", "DATA")]
    assert all(args["payload"] is None and args["payload_file"] for args in sets)
    held = {(key, contents) for key, contents, _ in rec.payload_files}
    assert ("auth", SECRETS["ngc"]) in held and ("HF_TOKEN", SECRETS["hf"]) in held and ("access_key", SECRETS["s3"]) in held
    assert {mode for *_, mode in rec.payload_files} == {0o600}
    paths = [Path(item.split("=", 1)[1]) for args in sets for item in args["payload_file"]]
    assert paths and not any(p.exists() or p.parent.exists() for p in paths)


def test_no_secret_value_in_any_argv(parsed):
    rec, _ = parsed
    leaked = [arg for argv in rec.calls for arg in argv if any(value in arg for value in SECRETS.values())]
    assert leaked == []
