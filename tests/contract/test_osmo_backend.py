"""Contract tests of OsmoBackend against the osmo 6.3.1 double (tests/fakes/osmo_cli.py).

The backend runs for real: argv building, subprocess, retries, parsing, error mapping. Only the
``osmo`` executable is replaced, by a script that prints the real CLI's shapes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from skill.backends import _osmo_parse as parse
from skill.backends.osmo import OsmoBackend, OsmoExit, map_backend_errors
from skill.errors import (
    BackendTimeout,
    BackendUnavailable,
    CommandFailed,
    InputError,
    NotFound,
    RateLimited,
    SkillError,
)
from skill.models import TaskStatus
from skill.render import render_workflow
from skill.paths import skill_root, workflow_path
from tests.fakes.osmo_cli import install

WORKFLOW = {
    "status": "RUNNING",
    "groups": [
        {"name": "setup_group", "status": "COMPLETED",
         "tasks": [{"name": "setup", "status": "COMPLETED", "exit_code": 0, "lead": True}]},
        {"name": "augmentation_group", "status": "RUNNING",
         "tasks": [{"name": "cosmos_worker_0", "status": "RUNNING", "lead": True}]},
    ],
}
BASE = {
    "stderr_warning": "WARNING: New client 6.4.0 available. Please update with: osmo update",
    "workflows": {"vda-demo-3": WORKFLOW},
    "pools": [
        {"name": "gpu-pool", "status": "ONLINE", "platforms": ["gpu", "l40s"], "default_platform": "gpu", "quota_free": "4", "total_free": "2"},
        {"name": "old-pool", "status": "OFFLINE", "platforms": ["gpu"], "default_platform": "gpu", "quota_free": "8", "total_free": "8 (shared)"},
    ],
    "credentials": [{"cred_name": "hf_token", "cred_type": "GENERIC", "profile": None},
                    {"cred_name": "nvcr_io", "cred_type": "REGISTRY", "profile": "nvcr.io"}],
    "objects": {"s3://bucket/pre/datasets/ds/a.mp4": "A", "s3://bucket/pre/datasets/ds/sub/b.mp4": "B",
                "s3://bucket/pre/datasets/other/c.mp4": "C"},
    "configs": {"POD_TEMPLATE": {"gpu": {"spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}},
    "logs": {"vda-demo-3": [["setup", "generating configs"], ["cosmos_worker_0", "loading model"],
                            ["cosmos_worker_0", "step 1/35"], ["cosmos_worker_0", "step 2/35"]]},
}
VALUES = {
    "dataset": "vda-demo", "run_id": "run-1a2b3c4d", "storage_url": "s3://bucket/pre", "gpu_platform": "gpu",
    "video": "clip", "cosmos_model_cache_url": "s3://bucket/pre/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "s3://bucket/pre/data/models/auto_labeling", "skills_dir": str(skill_root()),  # the double inlines every localpath, as the real CLI does
}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def double(tmp_path):
    return install(tmp_path / "osmo", BASE)


@pytest.fixture
def backend(double, sleeps) -> OsmoBackend:
    return OsmoBackend(double.executable, timeout=20, sleep=sleeps.append, logs_timeout=3)


def with_responses(double, **responses) -> None:
    double.update(responses={k.replace("_", " "): v for k, v in responses.items()})


@pytest.fixture(scope="module")
def spec():
    return render_workflow(workflow_path("augmentation_and_al"), set_string=VALUES)


# --- submit -------------------------------------------------------------------------------------


def test_submit_sends_one_set_string_with_every_pair_after_the_file(backend, double, spec):
    assert backend.submit(spec, pool="gpu-pool") == "vda-demo-1"
    argv = double.calls()[-1]
    assert argv[:3] == ["workflow", "submit", str(Path(spec.source).resolve())]
    assert argv.count("--set-string") == 1 and "--set" not in argv
    assert argv[argv.index("--pool") + 1] == "gpu-pool"
    assert argv[argv.index("--format-type") + 1] == "json"
    after = argv[argv.index("--set-string") + 1:]
    assert after == [f"{k}={v}" for k, v in spec.values.items()]
    assert argv.index("--pool") < argv.index("--set-string")


def test_submit_numbers_resubmissions_like_the_service(backend, spec):
    assert [backend.submit(spec) for _ in range(2)] == ["vda-demo-1", "vda-demo-2"]


def test_submit_with_set_values_adds_exactly_one_set(backend, double, spec):
    typed = spec.model_copy(update={"set_values": {"workers": "2"}})
    backend.submit(typed)
    argv = double.calls()[-1]
    assert argv.count("--set") == 1 and argv.count("--set-string") == 1
    assert argv[argv.index("--set") + 1] == "workers=2"


def test_submit_reads_the_text_form_too(backend, double, spec):
    text = "Workflow submit successful.\nWorkflow ID        - vda-demo-7\nWorkflow Overview  - https://o/workflows/vda-demo-7\n"
    with_responses(double, workflow_submit=[{"stdout": text}])
    assert backend.submit(spec) == "vda-demo-7"


def test_submit_error_exit_1_carries_the_server_message(backend, double, spec):
    message = "Unable to authenticate for pulling image nvcr.io/nvidia/x:1. Please create a credential for nvcr.io or check if the image exists."
    with_responses(double, workflow_submit=[{"exit": 1, "error": message}])
    with pytest.raises(CommandFailed) as caught:
        backend.submit(spec)
    assert "Unable to authenticate for pulling image" in caught.value.message
    assert caught.value.exit_code == 1 and caught.value.remedy


def test_submit_is_not_retried_on_exit_10(backend, double, sleeps, spec):
    with_responses(double, workflow_submit=[{"exit": 10, "error": "Internal server error: boom"}])
    with pytest.raises(BackendUnavailable):
        backend.submit(spec)
    assert len(double.calls()) == 1 and sleeps == []


def test_submit_is_retried_on_exit_75_then_succeeds(backend, double, sleeps, spec):
    with_responses(double, workflow_submit=[{"exit": 75, "error": "Too many requests"}] * 2)
    assert backend.submit(spec) == "vda-demo-1"
    assert len(double.calls()) == 3 and sleeps == [1.0, 2.0]


def test_submit_of_a_spec_without_source_is_an_input_error(backend, double, spec):
    with pytest.raises(InputError):
        backend.submit(spec.model_copy(update={"source": None}))
    assert double.calls() == []


def test_undefined_variable_from_the_server_is_a_command_failure(backend, double, spec):
    bare = spec.model_copy(update={"values": {k: v for k, v in spec.values.items() if k != "dataset"}})
    with pytest.raises(CommandFailed) as caught:
        backend.submit(bare)
    assert "'dataset' is undefined" in caught.value.message


# --- query ---------------------------------------------------------------------------------------


def test_query_parses_groups_tasks_and_times(backend, double):
    status = backend.query("vda-demo-3")
    assert double.calls()[-1] == ["workflow", "query", "vda-demo-3", "--format-type", "json"]
    assert status.workflow_id == "vda-demo-3" and status.status == "RUNNING" and not status.terminal
    assert [g.name for g in status.groups] == ["setup_group", "augmentation_group"]
    setup = status.tasks[0]
    assert (setup.name, setup.status, setup.exit_code, setup.lead) == ("setup", "COMPLETED", 0, True)
    assert status.submit_time == "2026-06-01T09:59:58.120000+00:00"  # naive UTC made explicit
    assert status.tasks[1].exit_code is None


def test_query_retries_exit_10_then_answers(backend, double, sleeps):
    with_responses(double, workflow_query=[{"exit": 10, "error": "Connection refused"}] * 2)
    assert backend.query("vda-demo-3").status == "RUNNING"
    assert len(double.calls()) == 3 and sleeps == [1.0, 2.0]


def test_query_exit_10_every_time_is_backend_unavailable(double, sleeps):
    double.update(always={"workflow query": {"exit": 10, "error": "Internal server error: db down"}})
    backend = OsmoBackend(double.executable, retries=2, backoff=0.5, sleep=sleeps.append)
    with pytest.raises(BackendUnavailable) as caught:
        backend.query("vda-demo-3")
    assert len(double.calls()) == 3 and sleeps == [0.5, 1.0]
    assert "db down" in caught.value.message


def test_query_exit_75_every_time_is_rate_limited(backend, double, sleeps):
    double.update(always={"workflow query": {"exit": 75, "error": "Too many requests"}})
    with pytest.raises(RateLimited):
        backend.query("vda-demo-3")
    assert len(double.calls()) == 4 and sleeps == [1.0, 2.0, 4.0]


def test_query_of_an_unknown_workflow_is_not_found(backend):
    with pytest.raises(NotFound):
        backend.query("nope-1")


def test_exit_2_without_not_found_is_command_failed(backend, double):
    with_responses(double, workflow_query=[{"exit": 2, "error": "Bad request: uuid malformed"}])
    with pytest.raises(CommandFailed) as caught:
        backend.query("vda-demo-3")
    assert caught.value.exit_code == 2 and "uuid malformed" in caught.value.message


def test_garbage_output_is_unparseable(backend, double):
    with_responses(double, workflow_query=[{"stdout": "<html>502 Bad Gateway</html>"}])
    with pytest.raises(CommandFailed) as caught:
        backend.query("vda-demo-3")
    assert caught.value.code == "unparseable-output"


def test_unknown_status_is_unparseable_not_a_crash(backend, double):
    with_responses(double, workflow_query=[{"stdout": json.dumps({"name": "w", "status": "EXPLODED", "groups": []})}])
    with pytest.raises(CommandFailed) as caught:
        backend.query("vda-demo-3")
    assert caught.value.code == "unparseable-output"


def test_a_hanging_cli_is_a_backend_timeout(double):
    double.update(always={"workflow query": {"sleep": 30}})
    with pytest.raises(BackendTimeout) as caught:
        OsmoBackend(double.executable, timeout=0.5).query("vda-demo-3")
    assert "workflow query" in caught.value.message


def test_stderr_warnings_do_not_break_parsing(backend, double):
    with_responses(double, workflow_query=[{"stderr": "WARNING: access token expires in 2 days", "stdout": json.dumps(
        {"name": "vda-demo-3", "status": "COMPLETED", "groups": []})}])
    assert backend.query("vda-demo-3").status == "COMPLETED"
    assert backend.pools()  # the scenario prints a WARNING on stderr on every call


def test_missing_executable_is_backend_unavailable(tmp_path):
    with pytest.raises(BackendUnavailable) as caught:
        OsmoBackend(str(tmp_path / "no-such-osmo")).query("x-1")
    assert caught.value.message == "osmo CLI not found"
    assert "osmo login" in caught.value.remedy


# --- logs, cancel -----------------------------------------------------------------------------------


def test_logs_strip_the_header_and_keep_the_last_lines(backend, double):
    text = backend.logs("vda-demo-3", task="cosmos_worker_0", last_n=2)
    # 10 more than asked: the service may count a stream end marker or a failure pointer block
    assert double.calls()[-1] == ["workflow", "logs", "vda-demo-3", "--task", "cosmos_worker_0", "-n", "12"]
    assert text.splitlines() == ["2026/06/01 10:00:01 [cosmos_worker_0] step 1/35", "2026/06/01 10:00:02 [cosmos_worker_0] step 2/35"]


def test_logs_of_a_failed_workflow_drop_the_closing_pointer_block(backend, double):
    double.update(statuses={"vda-demo-3": ["FAILED"]})
    assert backend.query("vda-demo-3").status == "FAILED"
    text = backend.logs("vda-demo-3", last_n=1)
    assert text == "2026/06/01 10:00:03 [cosmos_worker_0] step 2/35"
    raw = subprocess.run([double.executable, "workflow", "logs", "vda-demo-3"], capture_output=True, text=True).stdout
    assert "Workflow terminated abnormally" in raw and "Workflow terminated" not in backend.logs("vda-demo-3")


def test_logs_of_a_live_workflow_return_what_arrived_before_the_timeout(double):
    double.update(streaming=["vda-demo-3"])
    backend = OsmoBackend(double.executable, logs_timeout=1.0)
    text = backend.logs("vda-demo-3", last_n=10)
    assert "[setup] generating configs" in text and "Workflow vda-demo-3 has logs:" not in text


def test_logs_redact_secrets_that_reached_a_log_line(backend, double):
    double.update(logs={"vda-demo-3": [["setup", "token=hf_CANARYabcdefghijkl"]]})
    assert "hf_CANARY" not in backend.logs("vda-demo-3")


def test_cancel_succeeds_and_the_workflow_ends_canceled(backend, double):
    backend.cancel("vda-demo-3")
    assert double.calls()[-1] == ["workflow", "cancel", "vda-demo-3", "--format-type", "json"]
    assert backend.query("vda-demo-3").status == "FAILED_CANCELED"


def test_cancel_failure_reported_with_exit_0_is_still_an_error(backend):
    with pytest.raises(NotFound):
        backend.cancel("ghost-1")


# --- data ---------------------------------------------------------------------------------------------


def test_data_list_returns_full_urls_and_passes_recursive_and_no_pager(backend, double):
    keys = backend.data_list("s3://bucket/pre/datasets/ds")
    assert double.calls()[-1] == ["data", "list", "--recursive", "--no-pager", "s3://bucket/pre/datasets/ds"]
    assert keys == ["s3://bucket/pre/datasets/ds/a.mp4", "s3://bucket/pre/datasets/ds/sub/b.mp4"]


def test_the_double_lists_one_level_with_folder_prefixes_unless_recursive(double):
    def listing(*flags):
        proc = subprocess.run([double.executable, "data", "list", *flags, "--no-pager", "s3://bucket/pre/datasets/ds"],
                              capture_output=True, text=True, check=True)
        return proc.stdout

    assert listing() == "pre/datasets/ds/sub/\npre/datasets/ds/a.mp4\n\nTotal 2 objects found\n"
    assert listing("-r") == "pre/datasets/ds/a.mp4\npre/datasets/ds/sub/b.mp4\n\nTotal 2 objects found\n"


def test_folder_lines_are_never_returned_as_files():
    assert parse.parse_data_list("pre/run/outputs/\npre/run/a.txt\n\nTotal 2 objects found") == ["pre/run/a.txt"]


@pytest.mark.parametrize("stdout", ["\nTotal 0 objects found", "No entries found", "No entries found.\n"])
def test_data_list_empty_answers_are_empty_lists(backend, double, stdout):
    with_responses(double, data_list=[{"stdout": stdout}])
    assert backend.data_list("s3://bucket/empty") == []


def test_data_list_retries_without_no_pager_when_the_flag_is_unknown(backend, double):
    double.update(legacy_data_list=True)
    assert backend.data_list("s3://bucket/pre/datasets/other") == ["s3://bucket/pre/datasets/other/c.mp4"]
    assert double.calls()[-2:] == [["data", "list", "--recursive", "--no-pager", "s3://bucket/pre/datasets/other"],
                                   ["data", "list", "--recursive", "s3://bucket/pre/datasets/other"]]


def test_data_download_lands_keys_relative_to_the_url(backend, double, tmp_path):
    files = backend.data_download("s3://bucket/pre/datasets/ds", tmp_path / "out")
    assert double.calls()[-1][:3] == ["data", "download", "s3://bucket/pre/datasets/ds"]
    assert double.calls()[-1][3].endswith("/out/")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in files] == ["a.mp4", "sub/b.mp4"]
    assert (tmp_path / "out" / "sub" / "b.mp4").read_text() == "B"


def test_data_upload_puts_files_flat_and_folders_by_their_children(backend, double, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "x.mp4").write_text("X")
    single = tmp_path / "y.mp4"
    single.write_text("Y")
    backend.data_upload("s3://bucket/pre/datasets/new", [folder, single])
    assert double.calls()[-1] == ["data", "upload", "s3://bucket/pre/datasets/new", str(folder / "x.mp4"), str(single)]
    assert backend.data_list("s3://bucket/pre/datasets/new") == ["s3://bucket/pre/datasets/new/x.mp4", "s3://bucket/pre/datasets/new/y.mp4"]


def test_data_upload_of_a_missing_file_is_an_input_error(backend, double, tmp_path):
    with pytest.raises(InputError):
        backend.data_upload("s3://bucket/x", [tmp_path / "missing.mp4"])
    assert double.calls() == []


# --- pools, credentials, config, version --------------------------------------------------------------------


def test_pools_read_platforms_and_effective_free_gpus(backend, double):
    pools = {p.name: p for p in backend.pools()}
    assert double.calls()[-1] == ["pool", "list", "--format-type", "json"]
    assert pools["gpu-pool"].status == "ONLINE" and pools["gpu-pool"].platforms == ["gpu", "l40s"]
    assert pools["gpu-pool"].gpu_free == 2 and pools["gpu-pool"].default_platform == "gpu"
    assert pools["old-pool"].status == "OFFLINE" and pools["old-pool"].gpu_free == 8


def test_credentials_put_the_format_flag_on_the_parent_parser(backend, double):
    creds = backend.credentials()
    assert double.calls()[-1] == ["credential", "--format-type", "json", "list"]
    # in the order they were stored, as 6.3.1 lists them
    assert [(c.name, c.type, c.profile) for c in creds] == [("hf_token", "GENERIC", None), ("nvcr_io", "REGISTRY", "nvcr.io")]


def test_setting_an_existing_generic_credential_replaces_it(backend, double):
    """6.3.1 upserts on the profile only: a second set of hf_token fails on the primary key, so the
    backend deletes it and sets it again (a REGISTRY with the same profile is updated in place)."""
    backend.set_credential("hf_token", "GENERIC", {"token": "hf_CANARYabcdefghij"})
    sets = [argv[:3] for argv in double.calls()]
    assert sets == [["credential", "set", "hf_token"], ["credential", "delete", "hf_token"], ["credential", "set", "hf_token"]]
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "auth": "plainsecretvalue42"})
    assert [argv[:2] for argv in double.calls()[3:]] == [["credential", "set"]]
    assert sorted(c.name for c in backend.credentials()) == ["hf_token", "nvcr_io"]


def test_set_credential_passes_values_in_private_files_never_in_argv(backend, double):
    backend.set_credential("hf_token", "GENERIC", {"token": "hf_CANARYabcdefghij", "HF_TOKEN": "hf_CANARYabcdefghij"})
    argv = double.calls()[-1]
    assert argv[:6] == ["credential", "set", "hf_token", "--type", "GENERIC", "--payload-file"]
    assert [item.split("=", 1)[0] for item in argv[6:]] == ["token", "HF_TOKEN"]
    assert "--payload" not in argv and not any("CANARY" in a for a in argv)
    assert double.state()["credential_sets"][-1] == {"name": "hf_token", "type": "GENERIC", "keys": ["HF_TOKEN", "token"]}
    assert set(double.state()["payload_file_modes"]) == {"0o600"}
    # the files and their folder are gone once the call returns
    assert not any(Path(item.split("=", 1)[1]).exists() or Path(item.split("=", 1)[1]).parent.exists() for item in argv[6:])


def test_payload_files_are_removed_when_the_cli_fails(backend, double):
    with_responses(double, credential_set=[{"exit": 2, "error": "Registry authentication failed"}])
    with pytest.raises(CommandFailed):
        backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "auth": "plainsecretvalue42"})
    paths = [Path(item.split("=", 1)[1]) for item in double.calls()[-1][6:]]
    assert paths and not any(p.exists() or p.parent.exists() for p in paths)


def test_no_secret_value_in_any_argv_the_double_logged(backend, double, spec):
    secrets = ["nvapi-CANARYsecret0123456789", "hf_CANARYabcdefghij", "plainsecretvalue42"]
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": secrets[0]})
    backend.set_credential("hf_token", "GENERIC", {"HF_TOKEN": secrets[1]})
    backend.set_credential("s3_data", "DATA", {"access_key_id": "AKIDEXAMPLE", "access_key": secrets[2], "endpoint": "s3://bucket"})
    backend.credentials(); backend.pools(); backend.version(); backend.submit(spec, pool="gpu-pool")
    backend.data_list("s3://bucket/pre"); backend.query("vda-demo-3"); backend.logs("vda-demo-3")
    logged = [arg for argv in double.calls() for arg in argv]
    assert len(double.calls()) == 12  # hf_token existed: set, delete, set
    assert not [arg for arg in logged if any(secret in arg for secret in secrets)]


def test_not_logged_in_is_a_coded_error_with_the_login_remedy(backend, double):
    double.update(logged_out=True)
    for call in (lambda: backend.query("vda-demo-3"), backend.pools, backend.credentials):
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert caught.value.code == "not-logged-in"
        assert "osmo login" in caught.value.remedy
        assert "Must login first" in caught.value.message
    assert backend.version() == {"client": "6.3.1", "service": None}


def test_the_double_fails_like_6_3_1_without_a_login(double):
    double.update(logged_out=True)
    proc = subprocess.run([double.executable, "pool", "list"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == 'Error message: Must login first with "login" command\nError code: 1\n'


def test_set_credential_errors_never_show_the_payload(backend, double):
    secret = "plainsecretvalue42"  # neither token-shaped nor in the environment: only the backend can mask it
    with_responses(double, credential_set=[{"exit": 2, "error": f"Registry authentication failed for auth={secret}",
                                            "stderr": f"debug: payload auth={secret}"}])
    with pytest.raises(CommandFailed) as caught:
        backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": secret})
    err = caught.value
    everything = " ".join([str(err), err.message, err.output_tail, *err.argv, repr(err.to_model())])
    assert secret not in everything
    assert "--payload-file" in err.argv and not any(secret in a for a in err.argv)


def test_set_credential_rejects_bad_names_without_calling(backend, double):
    with pytest.raises(InputError):
        backend.set_credential("-bad", "GENERIC", {"token": "x"})
    with pytest.raises(InputError) as caught:
        backend.set_credential("ok", "GENERIC", {"token": ""})
    assert double.calls() == [] and "token" in caught.value.message


def test_config_show_returns_the_json(backend, double):
    assert backend.config_show("POD_TEMPLATE")["gpu"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert double.calls()[-1] == ["config", "show", "POD_TEMPLATE"]
    with pytest.raises(NotFound):
        backend.config_show("ROLE")


def test_version_reads_string_fields(backend, double):
    double.update(version={"client": "6.3.1", "service": "6.4.0"})
    assert backend.version() == {"client": "6.3.1", "service": "6.4.0"}
    assert double.calls()[-1] == ["version", "--format-type", "json"]


def test_injected_runner_replaces_the_subprocess():
    seen = []

    def runner(argv, *, timeout):
        seen.append((argv, timeout))
        return subprocess.CompletedProcess(argv, 0, stdout=json.dumps({"credentials": []}), stderr="")

    assert OsmoBackend("osmo-x", timeout=7, runner=runner).credentials() == []
    assert seen == [(["osmo-x", "credential", "--format-type", "json", "list"], 7)]


# --- flag injection and the error seam -------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.query("--help"),
        lambda b: b.logs("wf-1", task="-n"),
        lambda b: b.cancel("-f"),
        lambda b: b.data_list("--recursive"),
        lambda b: b.data_download("-x", Path("/tmp")),
        lambda b: b.data_upload("-r", [Path(__file__)]),
        lambda b: b.set_credential("--payload", "GENERIC", {"k": "v"}),
        lambda b: b.config_show("-v"),
        lambda b: b.query("wf\n-1"),
    ],
)
def test_values_that_look_like_flags_never_reach_the_cli(backend, double, call):
    with pytest.raises(InputError):
        call(backend)
    assert double.calls() == []


def test_submit_keys_that_look_like_flags_are_rejected(backend, double, spec):
    with pytest.raises(InputError):
        backend.submit(spec.model_copy(update={"values": {"--pool": "x"}}))
    with pytest.raises(InputError):
        backend.submit(spec, pool="--dry-run")
    assert double.calls() == []


def _validation_error() -> ValidationError:
    try:
        TaskStatus.model_validate({"name": "t", "status": "NOPE"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (FileNotFoundError(2, "No such file"), BackendUnavailable),
        (PermissionError(13, "denied"), BackendUnavailable),
        (subprocess.TimeoutExpired(["osmo"], 5), BackendTimeout),
        (OsmoExit(1, "Error message: Resource validation failed for task: t\nError code: 1", ""), CommandFailed),
        (OsmoExit(2, '{"message": "Workflow x-1 not found", "code": 404}', ""), NotFound),
        (OsmoExit(2, "", "usage: osmo\nosmo: error: unrecognized arguments: --bogus"), CommandFailed),
        (OsmoExit(3, "", ""), CommandFailed),
        (OsmoExit(10, "Error message: Internal server error\nError code: 500", ""), BackendUnavailable),
        (OsmoExit(75, "Error message: Too many requests\nError code: 429", ""), RateLimited),
        (OsmoExit(2, "Error message: Please run osmo login first\nError code: 401", ""), BackendUnavailable),
        (OsmoExit(2, 'Error message: Must login first with "login" command\nError code: 1', ""), BackendUnavailable),
        (OsmoExit(2, '{"message": "Must login first with \\"login\\" command", "code": 1}', ""), BackendUnavailable),
        (parse.UnparseableOutput("pool list", "no JSON"), CommandFailed),
        (_validation_error(), CommandFailed),
    ],
)
def test_every_known_failure_maps_to_a_skill_error(failure, expected):
    with pytest.raises(SkillError) as caught:
        with map_backend_errors(["osmo", "workflow", "query", "x-1"]):
            raise failure
    assert type(caught.value) is expected
    assert caught.value.__cause__ is failure
    assert caught.value.remedy


def test_the_seam_redacts_argv_and_output(monkeypatch):
    monkeypatch.setenv("NGC_API_KEY", "nvapi-CANARYsecretvalue123")
    with pytest.raises(CommandFailed) as caught:
        with map_backend_errors(["osmo", "credential", "set", "n", "--payload", "auth=nvapi-CANARYsecretvalue123"]):
            raise OsmoExit(1, "Error message: bad key nvapi-CANARYsecretvalue123\nError code: 1", "")
    shown = json.dumps([str(caught.value), caught.value.argv, caught.value.output_tail])
    assert "CANARY" not in shown


# --- parsers on their own -----------------------------------------------------------------------------------


def test_query_parser_tolerates_missing_and_extra_keys():
    status = parse.parse_query(json.dumps({"status": "PENDING", "new_key": {"x": 1},
                                           "groups": [{"name": "g", "status": "SCHEDULING", "tasks": [{"name": "t", "status": "SCHEDULING", "exit_code": "3"}]}]}), "wf-9")
    assert status.workflow_id == "wf-9" and status.groups[0].tasks[0].exit_code == 3 and status.submit_time is None


@pytest.mark.parametrize(("raw", "iso"), [
    ("2026-06-01T10:00:00", "2026-06-01T10:00:00+00:00"),
    ("2026-06-01T10:00:00.5", "2026-06-01T10:00:00.500000+00:00"),
    ("2026-06-01 10:00:00.123456789", "2026-06-01T10:00:00.123456+00:00"),
    ("2026-06-01T10:00:00Z", "2026-06-01T10:00:00+00:00"),
    ("yesterday", "yesterday"),
    (None, None),
])
def test_timestamps_are_naive_utc_made_explicit(raw, iso):
    assert parse.normalize_time(raw) == iso


def test_error_message_reads_text_json_and_stderr_forms():
    assert parse.error_message("Workflow x submit failed:\nError message: quota exceeded\nError code: 1") == "quota exceeded"
    assert parse.error_message('{"message": "Workflow y not found", "code": 404}') == "Workflow y not found"
    assert parse.error_message("", "WARNING: new client\nosmo: error: unrecognized arguments: -q") == "osmo: error: unrecognized arguments: -q"


def test_data_list_parser_rejects_a_count_mismatch():
    with pytest.raises(parse.UnparseableOutput):
        parse.parse_data_list("a\nb\n\nTotal 3 objects found")


@pytest.mark.parametrize(("url", "root"), [
    ("s3://b/p/q", "s3://b/"), ("gs://b", "gs://b/"), ("azure://acct/cont/p", "azure://acct/cont/"),
    ("swift://host/acct/bucket/x", "swift://host/acct/bucket/"), ("tos://ep/bucket/x", "tos://ep/bucket/"),
])
def test_bucket_roots_per_scheme(url, root):
    assert parse.bucket_root(url) == root


# --- a whole `vda run --backend osmo` through the double --------------------------------------------


def test_vda_run_on_osmo_stages_the_whole_run_layout_and_renders_the_side_by_side(tmp_path, monkeypatch, capsys):
    import respx
    import httpx as httpx2

    from skill.engines.synthetic import make_scene
    from skill.secrets import forget_secrets
    from skill.storage import cache_urls
    from tools.cli import main as vda

    clip = tmp_path / "clip.mp4"
    make_scene(clip, width=320, height=180, fps=10, seconds=2, seed=3, background="road")
    storage = "s3://bucket/pre"
    objects = {f"{storage}/datasets/vda-demo/clip.mp4": {"file": str(clip)},
               **{f"{url}/weights.bin": "w" for url in cache_urls(storage).values()}}
    manifest = {"configs": [{"video_name": "clip", "aug_idx": 0, "config": "clip_aug0.yaml", "sampled_vars": {"weather": "rain"}}]}
    status = json.dumps({"status": "completed", "degraded_stages": []})
    instances = json.dumps({"instances": {"car_1": {"object_type": "car"}}})
    outputs = {
        "setup_b0/configs/manifest.yaml": json.dumps(manifest), "setup_b0/configs/clip_aug0.yaml": "data: []\n",
        "outputs/augmented/clip_aug0/augmented_video.mp4": {"file": str(clip)},
        "outputs/pseudo_labeled_augmented/clip_aug0/contextual/instances.json": instances,
        "outputs/pseudo_labeled_augmented/clip_aug0/sidecars/pipeline_status.json": status,
        "outputs/pseudo_labeled/clip/contextual/instances.json": instances,
        "outputs/pseudo_labeled/clip/sidecars/pipeline_status.json": status,
    }
    double = install(tmp_path / "osmo", {
        "pools": [{"name": "gpu-pool", "status": "ONLINE", "platforms": ["gpu"], "default_platform": "gpu", "quota_free": "4", "total_free": "4"}],
        "credentials": [{"cred_name": "hf_token", "cred_type": "GENERIC", "profile": None}],
        "configs": {"POD_TEMPLATE": {"gpu": {"spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}},
        "objects": objects, "statuses": {"vda-demo-1": ["COMPLETED"]}, "run_outputs": outputs,
    })
    home = tmp_path / "home"
    for name, value in {"VDA_OSMO_CLI": double.executable, "VDA_HOME": str(home), "HOME": str(home), "HF_TOKEN": "hf_CANARYrunabcdefgh",
                        "NGC_CONFIG_FILE": str(tmp_path / "none"), "HF_TOKEN_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    for name in ("NGC_API_KEY", "NGC_CLI_API_KEY", "NVIDIA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    try:
        with respx.mock(assert_all_called=False) as web:  # the HF and registry probes: the network edge
            web.route().mock(return_value=httpx2.Response(200))
            code = vda(["run", "--backend", "osmo", "--dataset-url", f"{storage}/datasets/vda-demo", "--flow", "augmentation_and_al",
                        "--pool", "gpu-pool", "--nims", "skip", "--json"])
    finally:
        forget_secrets()
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    run_dir = Path(result["local_run_dir"])
    staged = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert set(outputs) | {"input/clip.mp4"} <= set(staged)
    assert {"setup_b0", "outputs", "input", "display"} <= {p.name for p in run_dir.iterdir()}
    rendered = run_dir / "display" / "vda-demo_clip_aug0_compare.mp4"
    assert rendered.stat().st_size > 0 and result["status"] == "COMPLETED"
    assert any(str(rendered) in line for line in result["media_lines"])
    assert result["sampled_vars"] == {"clip_aug0": {"weather": "rain"}}
    lists = [argv for argv in double.calls() if argv[:2] == ["data", "list"]]
    assert lists and all("--recursive" in argv for argv in lists)
    assert not any("CANARY" in arg for argv in double.calls() for arg in argv)
