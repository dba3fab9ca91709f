"""The OSMO backend calls not exercised elsewhere in this folder, against OSMO 6.3.1's real control
plane: preflight as a whole (credential list/set, pool list, ``config show POD_TEMPLATE``), the
lookup that lets an ambiguous submit adopt its workflow (``workflow list`` + ``workflow spec``),
and an inventory: every public method of :class:`OsmoBackend`, each with the real-server tests that
run it, so a new method cannot arrive without one."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from skill.backends import osmo as osmo_module
from skill.backends.osmo import OsmoBackend
from skill.render import render_workflow
from skill.steps.preflight import PreflightRequest, preflight
from skill.steps.submit import SubmitRequest, submit
from tests.contract.controlplane.stack import BUCKET, POOL

HERE = Path(__file__).parent

# method -> (the argv it builds, the tests in this folder that run it against the real server)
INVENTORY: dict[str, tuple[str, list[str]]] = {
    "submit": ("workflow submit FILE [--pool P] --format-type json [--set k=v ...] [--set-string k=v ...]",
               ["test_submit.py::test_submit_of_a_real_flow_is_accepted_pending_and_idempotent",
                "test_submit.py::test_the_real_server_rejects_more_cpu_than_any_node_has",
                "test_submit.py::test_one_set_string_carries_every_value_to_the_real_server"]),
    "query": ("workflow query ID --format-type json",
              ["test_lifecycle.py::test_poll_follows_a_workflow_from_pending_through_running_to_completed",
               "test_lifecycle.py::test_cancel_and_query_of_an_unknown_workflow_are_not_found"]),
    "logs": ("workflow logs ID [--task T] -n N",
             ["test_lifecycle.py::test_logs_through_get_logs_while_running_and_after_completion",
              "test_lifecycle.py::test_a_failed_task_fails_the_workflow_and_its_downstream_task_fails_upstream"]),
    "cancel": ("workflow cancel ID --format-type json",
               ["test_lifecycle.py::test_cancel_through_our_backend_ends_the_workflow_failed_canceled",
                "test_lifecycle.py::test_cancel_and_query_of_an_unknown_workflow_are_not_found"]),
    "lookup_submitted": ("workflow list --name N --count C --order desc --format-type json; workflow spec ID",
                         ["test_backend_calls.py::test_lookup_finds_our_workflow_by_its_run_id_and_nothing_else",
                          "test_backend_calls.py::test_an_ambiguous_submit_adopts_the_workflow_the_server_created"]),
    "data_list": ("data list --recursive --no-pager URL",
                  ["test_data.py::test_upload_puts_files_flat_and_folders_by_their_children_then_lists_them_at_any_depth",
                   "test_data.py::test_listing_an_empty_prefix_is_an_empty_list"]),
    "data_download": ("data download URL DEST/",
                      ["test_data.py::test_download_lands_keys_relative_to_the_url_and_returns_what_changed",
                       "test_data.py::test_downloading_a_missing_prefix_changes_nothing"]),
    "data_upload": ("data upload URL FILE ...",
                    ["test_data.py::test_upload_puts_files_flat_and_folders_by_their_children_then_lists_them_at_any_depth"]),
    "pools": ("pool list --format-type json",
              ["test_pools.py::test_pool_list_through_our_backend_reports_the_default_pool_online",
               "test_parity.py::test_pool_list_under_newer_http_libraries_fails_alike",
               "test_backend_calls.py::test_preflight_on_the_real_control_plane_is_ok"]),
    "credentials": ("credential --format-type json list",
                    ["test_submit.py::test_credentials_set_through_our_backend_are_listed_without_their_values",
                     "test_backend_calls.py::test_preflight_on_the_real_control_plane_is_ok"]),
    "set_credential": ("credential set NAME --type T --payload-file k=FILE ...; credential delete NAME (re-set)",
                       ["test_submit.py::test_setting_an_existing_generic_credential_again_replaces_it_on_the_real_server",
                        "test_backend_calls.py::test_preflight_on_the_real_control_plane_is_ok"]),
    "config_show": ("config show KIND",
                    ["test_backend_calls.py::test_preflight_on_the_real_control_plane_is_ok",
                     "test_parity.py::test_cluster_facts_parse_alike"]),
    "version": ("version --format-type json", ["test_pools.py::test_version_through_our_backend_names_both_sides"]),
    "wait_for_change": ("(no call: OSMO signals nothing, so the poll's pause is slept between queries)",
                        ["test_e2e_run.py::test_vda_run_on_the_real_control_plane_ends_with_the_side_by_side",
                         "test_e2e_run.py::test_a_many_clip_run_fans_out_into_batches_the_real_service_runs"]),
    "prewarmed": ("(no call: nothing starts ahead on a cluster; vda run enters the block before its submit)",
                  ["test_e2e_run.py::test_vda_run_on_the_real_control_plane_ends_with_the_side_by_side"]),
}


@pytest.mark.no_controlplane
def test_every_backend_method_has_a_real_server_test():
    public = {name for name, member in inspect.getmembers(OsmoBackend, inspect.isfunction) if not name.startswith("_")}
    assert public == set(INVENTORY), f"without a real-server test: {sorted(public - set(INVENTORY))}"
    for method, (_argv, tests) in INVENTORY.items():
        for ref in tests:
            file, name = ref.split("::")
            assert re.search(rf"^def {name}\(", (HERE / file).read_text(), re.MULTILINE), f"{method}: {ref} does not exist"


def test_preflight_on_the_real_control_plane_is_ok(controlplane, tmp_path):
    """The whole preflight sequence (probes off): credential list, both credentials set (or
    refreshed, when an earlier test set them), listed again, the pool, POD_TEMPLATE."""
    backend = OsmoBackend(executable=str(controlplane.osmo), timeout=60, retries=1, backoff=0.2)
    env = {"NGC_API_KEY": "nvapi-cpfake" + "k" * 30, "HF_TOKEN": "hf_cpfake" + "T" * 30,
           "NGC_CONFIG_FILE": str(tmp_path / "none"), "HF_TOKEN_FILE": str(tmp_path / "none")}
    result = preflight(PreflightRequest(workflow="augmentation_and_al", no_probe=True, refresh=True), backend=backend, env=env)
    checks = {c.name: c for c in result.checks}
    assert result.status == "ok", [c.model_dump() for c in result.checks if c.status != "ok"]
    assert checks["credential:nvcr_io"].data["action"] in ("created", "refreshed")
    assert checks["credential:hf_token"].data["action"] in ("created", "refreshed")
    assert checks["pools"].data["pools"] == [POOL] and result.platforms == ["default"]
    assert checks["pod-template"].status == "ok"
    listed = {c.name: c.type for c in backend.credentials()}
    assert listed["nvcr_io"] == "REGISTRY" and listed["hf_token"] == "GENERIC"
    assert "cpfake" not in result.model_dump_json()


def _marked_spec(tmp_path: Path, run_id: str):
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent("""\
        workflow:
          name: cp-adopt
          tasks:
          - name: only
            image: ubuntu:22.04
            command: ["echo", "{{ run_id }}"]
        default-values:
          run_id: run-00000000
        """))
    return path, render_workflow(path, set_string={"run_id": run_id})


def test_lookup_finds_our_workflow_by_its_run_id_and_nothing_else(osmo_backend, tmp_path):
    _, first = _marked_spec(tmp_path, "run-aaaa0001")
    wid_first = osmo_backend.submit(first, pool=POOL)
    _, second = _marked_spec(tmp_path, "run-aaaa0002")
    wid_second = osmo_backend.submit(second, pool=POOL)
    assert wid_first != wid_second and wid_first.startswith("cp-adopt-")
    assert osmo_backend.lookup_submitted("cp-adopt", "run-aaaa0001") == wid_first
    assert osmo_backend.lookup_submitted("cp-adopt", "run-aaaa0002") == wid_second
    assert osmo_backend.lookup_submitted("cp-adopt", "run-ffffffff") is None
    assert osmo_backend.lookup_submitted("cp-nosuch-name", "run-aaaa0001") is None


def test_an_ambiguous_submit_adopts_the_workflow_the_server_created(controlplane, tmp_path, ledger):
    """The real CLI submits; the answer is then lost (exit 10 and junk, as when the connection drops
    after the server created the workflow). Our submit step looks the run up on the real server and
    adopts that one workflow instead of creating a second."""
    from skill.backends.osmo import _default_runner

    def losing_runner(argv, *, timeout):
        done = _default_runner(argv, timeout=timeout)
        if argv[1:3] == ["workflow", "submit"] and done.returncode == 0:
            return subprocess.CompletedProcess(argv, 10, "<html>502 Bad Gateway</html>", "")
        return done

    backend = OsmoBackend(executable=str(controlplane.osmo), timeout=60, retries=0, runner=losing_runner)
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": "cp-fake-ngc-key"})
    backend.set_credential("hf_token", "GENERIC", {"token": "cp-fake-hf-token"})
    controlplane.put_object("datasets/cp-adopt/videos/clip01.mp4", b"x")
    request = SubmitRequest(flow="auto_labeling", run_id="run-adadad01", dataset="cp-adopt", storage_url=f"s3://{BUCKET}",
                            gpu_platform="default", video="clip01", pool=POOL)
    result = submit(request, backend=backend, ledger=ledger)
    assert result.status == "submitted" and result.workflow_id, result
    listed = json.loads(controlplane.cli("workflow", "list", "--format-type", "json", "--count", "100"))["workflows"]
    same_run = [w["name"] for w in listed if "run-adadad01" in controlplane.cli("workflow", "spec", w["name"], check=False)]
    assert same_run == [result.workflow_id]
    again = submit(request, backend=backend, ledger=ledger)
    assert again.reused and again.workflow_id == result.workflow_id


def _command(words: list[str]) -> tuple[str, ...]:
    """``("credential", "list")`` from the words of an argv: flags, their ``json`` value and
    placeholders dropped, the first two words kept."""
    kept = [w for w in words if w and not w.startswith(("-", "<")) and w != "json" and w == w.lower() and "=" not in w]
    return tuple(kept[:2])


@pytest.mark.no_controlplane
def test_the_module_builds_no_osmo_argv_outside_the_inventory():
    """Every argv list literal in the backend names a command from the inventory."""
    source = inspect.getsource(osmo_module)
    built = {_command(re.findall(r'"([^"]*)"', body))
             for body in re.findall(r'\[\s*("(?:workflow|data|pool|credential|config|version)"[^\]]*)\]', source)}
    listed = {_command(part.split()) for argv, _ in INVENTORY.values() for part in argv.split(";")}
    assert built and built <= listed, sorted(built - listed)
