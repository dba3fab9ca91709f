"""Guard + submit + query through our steps and OsmoBackend, validated by the real OSMO server."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from skill.errors import CommandFailed, InputError
from skill.render import render_workflow
from skill.steps.guard import GuardRequest, pre_submit_guard
from skill.steps.submit import SubmitRequest, submit
from tests.contract.controlplane.stack import BUCKET, POOL

VALUES = dict(dataset="cp-demo", storage_url=f"s3://{BUCKET}", gpu_platform="default", video="clip01")


@pytest.fixture(scope="module")
def credentials(controlplane):
    """The credentials the shipped flows name, set through our backend (fake values: registry
    validation of nvcr.io is off in this control plane)."""
    from skill.backends.osmo import OsmoBackend

    backend = OsmoBackend(executable=str(controlplane.osmo))
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": "cp-fake-ngc-key"})
    backend.set_credential("hf_token", "GENERIC", {"token": "cp-fake-hf-token"})
    return backend.credentials()


@pytest.fixture(scope="module")
def dataset(controlplane, credentials):
    controlplane.put_object("datasets/cp-demo/videos/clip01.mp4", b"not really a video")
    controlplane.put_object("data/models/auto_labeling/weights.bin", b"cache marker")
    controlplane.put_object("data/models/cosmos_transfer/weights.bin", b"cache marker")
    return VALUES


def _spec(tmp_path, body: str):
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(body))
    return render_workflow(path)


def test_credentials_set_through_our_backend_are_listed_without_their_values(credentials):
    listed = {c.name: c for c in credentials}
    assert listed["nvcr_io"].type == "REGISTRY" and listed["hf_token"].type == "GENERIC"
    assert "cp-fake" not in repr(credentials)


def test_guard_passes_for_a_real_flow_against_the_real_storage(osmo_backend, dataset):
    result = pre_submit_guard(GuardRequest(flow="auto_labeling", **dataset), backend=osmo_backend)
    assert result.status == "ok", [c.model_dump() for c in result.checks if c.status != "ok"]
    names = {c.name: c.status for c in result.checks}
    assert names["dataset_input"] == "ok" and names["video_in_dataset"] == "ok"


def test_guard_reports_a_missing_cache_from_the_real_storage(osmo_backend, controlplane):
    controlplane.put_object("datasets/cp-nocache/videos/clip01.mp4", b"x")
    result = pre_submit_guard(GuardRequest(flow="auto_labeling", **{**VALUES, "dataset": "cp-nocache",
                                                                     "storage_url": f"s3://{BUCKET}/nocache"}),
                              backend=osmo_backend)
    assert result.status in ("cache_missing", "failed")


def test_submit_of_a_real_flow_is_accepted_pending_and_idempotent(osmo_backend, dataset, ledger):
    guard = pre_submit_guard(GuardRequest(flow="auto_labeling", **dataset), backend=osmo_backend)
    request = SubmitRequest(flow="auto_labeling", run_id=guard.run_id, pool=POOL, **dataset)
    first = submit(request, backend=osmo_backend, ledger=ledger)
    assert first.status == "submitted" and first.workflow_id and not first.reused
    assert first.values_hash == guard.values_hash
    status = osmo_backend.query(first.workflow_id)
    assert status.workflow_id == first.workflow_id
    assert status.status == "PENDING"
    again = submit(request, backend=osmo_backend, ledger=ledger)
    assert again.reused and again.workflow_id == first.workflow_id


def test_a_task_input_that_does_not_exist_is_refused_by_us_and_by_the_real_server(tmp_path, controlplane):
    """Our renderer refuses it before submit with the server's own sentence; the real server,
    given the same file directly, refuses it too (so our check is not stricter than OSMO's)."""
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent("""\
        workflow:
          name: cp-missing-input
          tasks:
          - name: only
            image: ubuntu:22.04
            command: ["true"]
            inputs:
            - task: nosuch
        """))
    with pytest.raises(InputError) as ours:
        render_workflow(path)
    assert ours.value.code == "invalid-workflow"
    assert 'requires input task "nosuch"' in str(ours.value)
    done = subprocess.run([str(controlplane.osmo), "workflow", "submit", str(path), "--pool", POOL],
                          capture_output=True, text=True, timeout=60, cwd=str(controlplane.root))
    assert done.returncode != 0
    assert "nosuch" in done.stdout + done.stderr


def test_the_real_server_rejects_more_cpu_than_any_node_has(osmo_backend, tmp_path):
    spec = _spec(tmp_path, """\
        workflow:
          name: cp-too-big
          resources:
            default:
              cpu: 1000
          tasks:
          - name: only
            image: ubuntu:22.04
            command: ["true"]
        """)
    with pytest.raises(CommandFailed) as caught:
        osmo_backend.submit(spec, pool=POOL)
    assert "Value 1000.0 too high for CPU" in (caught.value.output_tail or "")


def test_one_set_string_carries_every_value_to_the_real_server(osmo_backend, controlplane, tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent("""\
        workflow:
          name: cp-values-{{ run_id }}
          tasks:
          - name: only
            image: ubuntu:22.04
            command: ["echo", "{{ dataset }}"]
        default-values:
          run_id: run-00000000
          dataset: none
        """))
    spec = render_workflow(path, set_string={"run_id": "run-abcdef12", "dataset": "cp-demo"})
    workflow_id = osmo_backend.submit(spec, pool=POOL)
    assert workflow_id.startswith("cp-values-run-abcdef12")
    rendered = controlplane.cli("workflow", "spec", workflow_id)
    assert "cp-demo" in rendered


def test_setting_an_existing_generic_credential_again_replaces_it_on_the_real_server(controlplane, credentials):
    """6.3.1 fails a second set of a GENERIC name on its primary key; our backend deletes and sets again."""
    from skill.backends.osmo import OsmoBackend

    backend = OsmoBackend(executable=str(controlplane.osmo))
    backend.set_credential("hf_token", "GENERIC", {"token": "cp-fake-hf-token-2"})
    listed = [c.name for c in backend.credentials()]
    assert listed.count("hf_token") == 1
