"""check_command on raw shell commands: each command rule fires and stays quiet, the canonical and
read-only commands pass, parsing survives anything, and the `vda policy` CLI reports it."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skill.policy.commands import parse_submit
from skill.policy.shell import split_commands
from skill.models import Decision
from skill.policy import RULES, RunState, check_command
from skill.secrets import forget_secrets, register_secret
from tools.cli import main

TOKEN = "nvapi-" + "Q7" * 12  # token-shaped, never a real key
HF = "hf_" + "Zx" * 10
SKILL = "/home/me/skills/skills/physical-ai-video-data-augmentation"
AUG = f"{SKILL}/assets/configs/osmo/augmentation_and_al.yaml"

PAIRS = {
    "dataset": "vda-demo",
    "run_id": "run-1a2b3c4d",
    "storage_url": "azure://storiondevxah69/osmo-workflows",
    "gpu_platform": "gpu",
    "video": "03_IllegalOccupation_020_10FPS",
    "cosmos_model_cache_url": "azure://storiondevxah69/osmo-workflows/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "azure://storiondevxah69/osmo-workflows/data/models/auto_labeling",
    "skills_dir": SKILL,
}


def submit(workflow: str = AUG, *, drop: tuple[str, ...] = (), **changes: str) -> str:
    """The canonical submit shape (one --set-string, every pair after it), with edits."""
    pairs = {k: v for k, v in {**PAIRS, **changes}.items() if k not in drop}
    return f"osmo workflow submit {workflow} --pool gpu-pool --set-string " + " ".join(f"{k}={v}" for k, v in pairs.items())


CANONICAL = submit()


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    forget_secrets()
    yield
    forget_secrets()


def user_state(message: str = "augment my clips in /data/videos", *, eta: bool = True) -> RunState:
    state = RunState(eta_given=eta)
    state.note_user(message)
    return state


def rules_of(decision: Decision) -> set[str]:
    return {v.rule for v in decision.violations}


# --- deny / allow tables ---------------------------------------------------------------------------------------

DENY: list[tuple[str, str, dict]] = [
    # single-set-string
    ("single-set-string", CANONICAL.replace(" storage_url=", " --set-string storage_url="), {}),
    ("single-set-string", CANONICAL.replace("--set-string dataset=vda-demo", "--set dataset=vda-demo --set-string"), {}),
    ("single-set-string", CANONICAL.replace("--set-string", "--set"), {}),
    ("single-set-string", f"osmo workflow submit {AUG} --pool gpu-pool " + " ".join(f"--set-string {k}={v}" for k, v in PAIRS.items()), {}),
    ("single-set-string", f"osmo workflow submit {AUG} --set-string dataset=vda-demo --pool gpu-pool video=clip", {}),
    ("single-set-string", f"osmo workflow submit {AUG} --pool gpu-pool", {}),
    ("single-set-string", f"bash -c '{CANONICAL} --set video=clip'", {}),
    # no-nim-scale-down
    ("no-nim-scale-down", "kubectl scale deploy qwen3-vl --replicas=0 -n osmo-nims", {}),
    ("no-nim-scale-down", "sudo kubectl scale nimservice/qwen25-14b --replicas 0", {}),
    ("no-nim-scale-down", "kubectl delete nimservice qwen3-vl -n osmo-nims", {}),
    ("no-nim-scale-down", "kubectl -n osmo-nims delete deploy qwen25-14b", {}),
    ("no-nim-scale-down", "kubectl delete pod --all --namespace=osmo-nims", {}),
    ("no-nim-scale-down", "kubectl delete ns osmo-nims", {}),
    ("no-nim-scale-down", "kubectl delete -f nims/qwen3-vl/nimservice.yaml", {}),
    ("no-nim-scale-down", """kubectl patch nimservice qwen3-vl -n osmo-nims --type merge -p '{"spec":{"replicas":0}}'""", {}),
    ("no-nim-scale-down", "kubectl edit nimservice qwen3-vl -n osmo-nims", {}),
    ("no-nim-scale-down", "helm uninstall nim-operator -n nim-operator", {}),
    ("no-nim-scale-down", "microk8s helm3 delete qwen3-vl", {}),
    ("no-nim-scale-down", "kubectl get po -n osmo-nims && kubectl scale deployment/qwen3-vl --replicas=0 -n osmo-nims", {}),
    # no-demo-substitution (needs the conversation: the user named their own input)
    ("no-demo-substitution", f"bash {SKILL}/scripts/prepare_demo_assets.sh /srv/sdg/data/vda_inputs", {"state": "user"}),
    ("no-demo-substitution", "hf download nvidia/video-data-augmentation-demo --repo-type dataset --local-dir /tmp/d", {"state": "user"}),
    ("no-demo-substitution", "osmo data upload azure://acct/cont/datasets/vda-demo/ /srv/sdg/data/vda_inputs/*", {"state": "user"}),
    ("no-demo-substitution", CANONICAL, {"state": "user"}),
    # vda-demo-only
    ("vda-demo-only", "hf download acme/street-clips --repo-type dataset", {}),
    ("vda-demo-only", "huggingface-cli download acme/street-clips --repo-type=dataset --local-dir clips", {}),
    ("vda-demo-only", """python3 -c "from huggingface_hub import snapshot_download; snapshot_download('acme/street-clips', repo_type='dataset')" """, {}),
    ("vda-demo-only", f"HF_DEMO_DATASET_REPO=acme/street-clips ALLOW_NON_VDA_DEMO_DATASET=1 bash {SKILL}/scripts/prepare_demo_assets.sh", {}),
    ("vda-demo-only", "git clone https://huggingface.co/datasets/acme/street-clips", {}),
    ("vda-demo-only", "curl -LO https://huggingface.co/datasets/acme/street-clips/resolve/main/a.mp4", {}),
    # no-invented-video
    ("no-invented-video", "yt-dlp -o in.mp4 'https://www.youtube.com/watch?v=xyz'", {}),
    ("no-invented-video", "wget https://download.example.org/videos/traffic.mp4", {}),
    ("no-invented-video", "curl -L 'https://example.org/dl?id=7' -o /data/in/placeholder.mp4", {}),
    ("no-invented-video", "curl -L https://www.pexels.com/download/video/123/", {}),
    ("no-invented-video", "ffmpeg -f lavfi -i testsrc=size=1280x720:rate=30 -t 6 clip.mp4", {}),
    # storage-url-derived
    ("storage-url-derived", submit(storage_url="s3://stale-bucket"), {}),
    ("storage-url-derived", submit(storage_url="azure://storiondevxah69/osmo-workflows/datasets"), {}),
    ("storage-url-derived", submit(storage_url="s3://metro", cosmos_model_cache_url="s3://metro/data/models/cosmos_transfer", auto_labeling_model_cache_url="s3://metro/data/models/auto_labeling"), {"state": "azure"}),
    ("storage-url-derived", "osmo data upload s3://other/datasets/clips/ /data/videos/*", {"state": "azure"}),
    # explicit-cache-urls
    ("explicit-cache-urls", submit(drop=("cosmos_model_cache_url",)), {}),
    ("explicit-cache-urls", submit(f"{SKILL}/assets/configs/osmo/e2e.yaml", drop=("cosmos_model_cache_url", "auto_labeling_model_cache_url")), {}),
    ("explicit-cache-urls", submit(f"{SKILL}/assets/configs/osmo/auto_labeling.yaml", drop=("auto_labeling_model_cache_url",)), {}),
    ("explicit-cache-urls", submit(cosmos_model_cache_url="'{{storage_url}}/data/models/cosmos_transfer'"), {}),
    ("explicit-cache-urls", submit("augmentation_and_pl.yaml", drop=("cosmos_model_cache_url",)), {}),
    # external-endpoints-opt-in
    ("external-endpoints-opt-in", submit(vlm_url="https://integrate.api.nvidia.com/v1"), {}),
    ("external-endpoints-opt-in", submit(llm_url="https://api.openai.com/v1"), {}),
    # no-secret-echo
    ("no-secret-echo", "echo $NGC_API_KEY", {}),
    ("no-secret-echo", 'echo "token is ${HF_TOKEN}"', {}),
    ("no-secret-echo", "printf '%s\\n' \"$NVIDIA_API_KEY\"", {}),
    ("no-secret-echo", 'cat <<< "$HF_TOKEN"', {}),
    ("no-secret-echo", "printenv HF_TOKEN", {}),
    ("no-secret-echo", "env | grep -i key", {}),
    ("no-secret-echo", "cat ~/.cache/huggingface/token", {}),
    ("no-secret-echo", f"osmo credential set nvcr_io --type REGISTRY --payload registry=nvcr.io username='$oauthtoken' auth={TOKEN}", {}),
    ("no-secret-echo", "osmo credential set hf_token --type GENERIC --payload token=abc123secret HF_TOKEN=abc123secret", {}),
    ("no-secret-echo", f"export NGC_API_KEY={TOKEN}", {}),
    ("no-secret-echo", "NGC_API_KEY=abcdef123456 bash install.sh", {}),
    ("no-secret-echo", f'curl -H "Authorization: Bearer {TOKEN}" https://integrate.api.nvidia.com/v1/models', {}),
    ("no-secret-echo", "osmo login https://osmo.example --method token --token abcdef123456", {}),
    ("no-secret-echo", "kubectl get secret ngc-api-secret -n osmo-nims -o jsonpath='{.data.NGC_API_KEY}'", {}),
    ("no-secret-echo", f"hf download Qwen/Qwen2.5-14B-Instruct --token {HF}", {}),
    # run-id-format
    ("run-id-format", submit(run_id="run-XYZ"), {}),
    ("run-id-format", submit(run_id="1a2b3c4d"), {}),
    ("run-id-format", submit(run_id="run-1A2B3C4D"), {}),
    ("run-id-format", submit(drop=("run_id",)), {}),
    ("run-id-format", CANONICAL, {"state": "submitted"}),
    # video-basename
    ("video-basename", submit(video="clips/03_IllegalOccupation_020_10FPS"), {}),
    ("video-basename", submit(video="03_IllegalOccupation_020_10FPS.mp4"), {}),
    ("video-basename", submit(video="'..\\clip'"), {}),
    ("video-basename", submit(video="../secret"), {}),
    # eta-before-mutation (judged on the run state when one is given)
    ("eta-before-mutation", CANONICAL, {"state": "no-eta"}),
    ("eta-before-mutation", 'osmo credential set nvcr_io --type REGISTRY --payload registry=nvcr.io auth="$NGC_API_KEY"', {"state": "no-eta"}),
    ("eta-before-mutation", 'NIM_SERVICES="qwen3-vl qwen25-14b" bash components/inference-nim-operator/scripts/install.sh', {"state": "no-eta"}),
    ("nim-allow-list", "bash components/inference-nim-operator/scripts/install.sh", {}),
    ("nim-allow-list", 'NIM_SERVICES="qwen3-vl qwen25-14b cosmos-predict" bash components/inference-nim-operator/scripts/install.sh', {}),
]

ALLOW: list[tuple[str, str, dict]] = [
    ("single-set-string", CANONICAL, {}),
    ("single-set-string", f"osmo workflow submit {SKILL}/assets/configs/osmo/setup_model_cache.yaml --set-string storage_url=azure://acct/cont path=data", {}),
    ("single-set-string", "osmo workflow submit vda-demo-12 --pool gpu-pool", {}),
    ("no-nim-scale-down", "kubectl -n osmo-nims get deploy,po -l 'app.kubernetes.io/name in (qwen3-vl,qwen25-14b)'", {}),
    ("no-nim-scale-down", "kubectl scale deploy qwen3-vl --replicas=2 -n osmo-nims", {}),
    ("no-nim-scale-down", "kubectl delete job qwen3-vl-hf-download -n osmo-nims", {}),
    ("no-nim-scale-down", "kubectl delete pod my-debug -n default", {}),
    ("no-nim-scale-down", "helm uninstall my-app -n default", {}),
    ("no-nim-scale-down", "helm upgrade --install nim-operator nvidia/k8s-nim-operator -n nim-operator --wait --timeout 300s", {}),
    ("no-nim-scale-down", 'NIM_SERVICES="qwen3-vl qwen25-14b" bash components/inference-nim-operator/scripts/install.sh', {}),
    ("nim-allow-list", 'NIM_SERVICES="qwen25-14b qwen3-vl" bash components/inference-nim-operator/scripts/install.sh', {}),
    ("no-nim-scale-down", "kubectl -n osmo-nims run nim-probe --rm -i --image=curlimages/curl -- curl -fsS http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1/models", {}),
    ("no-demo-substitution", f"bash {SKILL}/scripts/prepare_demo_assets.sh /srv/sdg/data/vda_inputs", {}),
    ("no-demo-substitution", f"bash {SKILL}/scripts/prepare_demo_assets.sh /srv/sdg/data/vda_inputs", {"state": "asked-demo"}),
    ("no-demo-substitution", "osmo data upload s3://metro/datasets/clips/ /data/videos/*", {"state": "user"}),
    ("vda-demo-only", "hf download nvidia/video-data-augmentation-demo --repo-type dataset", {}),
    ("vda-demo-only", "hf download acme/street-clips --repo-type dataset", {"demo_override": True}),
    ("vda-demo-only", "hf download Qwen/Qwen3-VL-30B-A3B-Instruct --local-dir /model-store", {}),
    ("vda-demo-only", f"bash {SKILL}/scripts/prepare_demo_assets.sh", {}),
    ("no-invented-video", "curl -fsSL https://huggingface.co/datasets/nvidia/video-data-augmentation-demo/resolve/main/goal_0086_0hz_6sec.mp4 -o goal.mp4", {}),
    ("no-invented-video", "curl -fsS http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1/models", {}),
    ("no-invented-video", "ffmpeg -y -i input/clip.mp4 -vf scale=-2:720 display/compare.mp4", {}),
    ("no-invented-video", "wget https://cdn.example.com/clip.mp4", {"state": "video-url"}),
    ("storage-url-derived", CANONICAL, {}),
    ("storage-url-derived", submit(dataset="clips", storage_url="azure://acct/cont", cosmos_model_cache_url="azure://acct/cont/data/models/cosmos_transfer", auto_labeling_model_cache_url="azure://acct/cont/data/models/auto_labeling"), {"state": "azure"}),
    ("storage-url-derived", f"osmo workflow submit {SKILL}/assets/configs/osmo/setup_model_cache.yaml --set-string storage_url=s3://bucket/prefix path=data", {}),
    ("explicit-cache-urls", CANONICAL, {}),
    ("explicit-cache-urls", submit(f"{SKILL}/assets/configs/osmo/auto_labeling.yaml", drop=("cosmos_model_cache_url",)), {}),
    ("explicit-cache-urls", f"osmo workflow submit {SKILL}/assets/configs/osmo/setup_model_cache.yaml --set-string storage_url=s3://bucket path=data", {}),
    ("external-endpoints-opt-in", submit(vlm_url="http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1"), {}),
    ("external-endpoints-opt-in", submit(vlm_url="https://integrate.api.nvidia.com/v1"), {"external_endpoints_allowed": True}),
    ("external-endpoints-opt-in", submit(llm_url="https://integrate.api.nvidia.com/v1"), {"state": "external"}),
    ("no-secret-echo", 'osmo credential set nvcr_io --type REGISTRY --payload registry=nvcr.io username=\'$oauthtoken\' auth="$NGC_API_KEY"', {}),
    ("no-secret-echo", "osmo credential set hf_token --type GENERIC --payload-file token=/run/secrets/hf", {}),
    ("no-secret-echo", "echo $HOME && printenv PATH", {}),
    ("no-secret-echo", "env | cut -d= -f1", {}),
    ("no-secret-echo", "env | grep OSMO", {}),
    ("no-secret-echo", 'curl -H "Authorization: Bearer $NGC_API_KEY" https://integrate.api.nvidia.com/v1/models', {}),
    ("no-secret-echo", 'export NGC_API_KEY="$(cat /run/secrets/ngc)"', {}),
    ("no-secret-echo", "osmo credential list && kubectl get secrets -n osmo-nims", {}),
    ("no-secret-echo", "echo 'USER_INPUT_REQUIRED: Provide missing secrets for absent credentials: HF_TOKEN'", {}),
    ("run-id-format", CANONICAL, {}),
    ("run-id-format", submit(run_id="run-0f0f0f0f"), {"state": "submitted"}),
    ("video-basename", CANONICAL, {}),
    ("video-basename", submit(video="goal_0086_0hz_6sec"), {}),
    ("eta-before-mutation", CANONICAL, {"state": "eta"}),
    ("eta-before-mutation", "osmo workflow query vda-demo-1 --format-type json", {"state": "no-eta"}),
]


def _kwargs(options: dict) -> dict:
    options = dict(options)
    kind = options.pop("state", None)
    if kind == "user":
        options["state"] = user_state()
        options["state"].dataset_url = None
    elif kind == "asked-demo":
        options["state"] = user_state("run the VDA demo please")
    elif kind == "azure":
        options["state"] = user_state("label azure://acct/cont/datasets/clips")
    elif kind == "submitted":
        options["state"] = RunState(eta_given=True, submitted_run_ids=["run-1a2b3c4d"])
    elif kind == "no-eta":
        options["state"] = RunState(eta_given=False)
    elif kind == "eta":
        options["state"] = RunState(eta_given=True)
    elif kind == "external":
        options["state"] = user_state("use external endpoints please")
    elif kind == "video-url":
        options["state"] = user_state("augment https://cdn.example.com/clip.mp4")
    return options


@pytest.mark.parametrize(("rule", "command", "options"), DENY, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(DENY)])
def test_command_rule_denies(rule, command, options):
    decision = check_command(command, **_kwargs(options))
    assert not decision.allowed
    assert rule in rules_of(decision), decision.violations
    for violation in decision.violations:
        assert violation.rule in RULES and violation.message and violation.remedy


@pytest.mark.parametrize(("rule", "command", "options"), ALLOW, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(ALLOW)])
def test_command_rule_allows(rule, command, options):
    decision = check_command(command, **_kwargs(options))
    assert rule not in rules_of(decision), decision.violations


def test_every_command_rule_has_deny_and_allow_rows():
    command_rules = {rule_id for rule_id, rule in RULES.items() if "command" in rule.judged_on}
    assert command_rules <= {row[0] for row in DENY}
    assert command_rules <= {row[0] for row in ALLOW}


# --- the acceptance list of the issue --------------------------------------------------------------------------

ACCEPT_DENY = {
    "repeated --set-string": (CANONICAL.replace(" run_id=", " --set-string run_id="), "single-set-string"),
    "mixed --set and --set-string": (CANONICAL + " --set cookbook=piazza", "single-set-string"),
    "kubectl scale to zero": ("kubectl scale deployment qwen3-vl -n osmo-nims --replicas=0", "no-nim-scale-down"),
    "kubectl delete nimservice": ("kubectl delete nimservice qwen25-14b -n osmo-nims", "no-nim-scale-down"),
    "helm uninstall NIMs": ("helm uninstall nim-operator -n nim-operator", "no-nim-scale-down"),
    "non-VDA demo repo": ("hf download someone/city-demo --repo-type dataset", "vda-demo-only"),
    "storage scheme differs": (submit(storage_url="s3://osmo-workflows"), "storage-url-derived"),
    "missing cache URL": (submit(drop=("auto_labeling_model_cache_url",)), "explicit-cache-urls"),
    "bad run_id": (submit(run_id="run-2024"), "run-id-format"),
    "video with a path": (submit(video="inputs/03_IllegalOccupation_020_10FPS"), "video-basename"),
    "secret echoed": ("echo $HF_TOKEN", "no-secret-echo"),
}

ACCEPT_ALLOW = {
    "canonical submit": CANONICAL,
    "workflow query": "osmo workflow query vda-demo-3 --format-type json",
    "workflow logs": "osmo workflow logs vda-demo-3 --task cosmos_worker_0 -n 200",
    "workflow list": "osmo workflow list --format-type json",
    "pool list": "osmo pool list --mode free",
    "pod template": "osmo config show POD_TEMPLATE",
    "data list": "osmo data list --no-pager azure://storiondevxah69/osmo-workflows/datasets/vda-demo",
    "data download": "osmo data download azure://acct/cont/datasets/vda-demo-outputs/run-1a2b3c4d/ media/vda/runs/run-1a2b3c4d/",
    "kubectl get": "kubectl get nodes -o wide",
    "NIM health": "kubectl -n osmo-nims get deploy,po -l 'app.kubernetes.io/name in (qwen3-vl,qwen25-14b)'",
    "healthy NIM install": 'NIM_SERVICES="qwen3-vl qwen25-14b" bash ~/skills/physical-ai-infrastructure-setup-and-resilient-scaling/components/inference-nim-operator/scripts/install.sh',
    "operator upgrade": "helm upgrade --install nim-operator nvidia/k8s-nim-operator --wait --timeout 300s",
    "cache submit": f"osmo workflow submit {SKILL}/assets/configs/osmo/setup_model_cache.yaml --set-string storage_url=azure://storiondevxah69/osmo-workflows path=data",
    "guard": f"python3 {SKILL}/scripts/pre_submit_guard.py --workflow {AUG}",
    "preflight": f"bash {SKILL}/scripts/preflight_credentials.sh --workflow {AUG}",
}


@pytest.mark.parametrize("name", list(ACCEPT_DENY))
def test_acceptance_denies(name):
    command, rule = ACCEPT_DENY[name]
    decision = check_command(command)
    assert not decision.allowed and rule in rules_of(decision)


@pytest.mark.parametrize("name", list(ACCEPT_ALLOW))
def test_acceptance_allows(name):
    assert check_command(ACCEPT_ALLOW[name]) == Decision(allowed=True, violations=[])


def test_argv_list_is_judged_like_the_string():
    import shlex

    for command in (CANONICAL, "kubectl delete nimservice qwen3-vl -n osmo-nims", "echo $NGC_API_KEY"):
        assert check_command(shlex.split(command)) == check_command(command)


# --- parsing ------------------------------------------------------------------------------------------------


def test_split_handles_lists_pipes_prefixes_and_nested_shells():
    commands = split_commands("FOO=1 sudo -E env BAR=2 osmo pool list | jq . ; bash -lc 'kubectl get po && helm list' & echo done")
    assert [c.argv[0] for c in commands] == ["osmo", "jq", "bash", "kubectl", "helm", "echo"]
    assert commands[0].env == (("FOO", "1"), ("BAR", "2"))
    assert commands[0].piped_to == ("jq", ".")


def test_parse_submit_counts_every_flag_and_pair():
    parsed = parse_submit(["e2e.yaml", "--pool", "p", "--set", "a=1", "--set-string=b=2", "c=3", "-t", "json", "stray=4"])
    assert parsed.file == "e2e.yaml" and parsed.pool == "p" and parsed.workflow == "e2e"
    assert parsed.set_flags == ["--set", "--set-string"]
    assert parsed.pairs == [("a", "1"), ("b", "2"), ("c", "3")]
    assert parsed.stray == ["stray=4"]


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ('echo "$NGC_API_KEY', "no-secret-echo"),
        (f"osmo workflow submit {AUG} --set a=1 --set-string 'oops", "single-set-string"),
        ("kubectl delete nimservice qwen3-vl -n osmo-nims '", "no-nim-scale-down"),
    ],
)
def test_unbalanced_quotes_fall_back_and_still_judge(command, rule):
    assert rule in rules_of(check_command(command))


def test_deep_nesting_is_bounded():
    command = "kubectl delete nimservice qwen3-vl -n osmo-nims"
    for _ in range(12):
        command = f"bash -c {json.dumps(command)}"
    assert isinstance(check_command(command), Decision)


def test_secrets_never_reach_a_command_decision():
    register_secret("registered-secret-777")
    command = f"echo registered-secret-777 {TOKEN} && osmo credential set x --type GENERIC --payload token={HF}"
    decision = check_command(command)
    text = decision.model_dump_json()
    assert not decision.allowed
    for value in ("registered-secret-777", TOKEN, HF):
        assert value not in text


def test_submit_remedy_is_the_canonical_command():
    decision = check_command(CANONICAL.replace(" storage_url=", " --set storage_url=").replace("video=03_IllegalOccupation_020_10FPS", "video=in/03_IllegalOccupation_020_10FPS.mp4"))
    remedy = decision.violations[0].remedy
    assert remedy.count("--set-string") == 1 and "--set " not in remedy
    assert "video=03_IllegalOccupation_020_10FPS" in remedy
    assert "storage_url=azure://storiondevxah69/osmo-workflows" in remedy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_check_command_never_raises_on_text(text):
    decision = check_command(text)
    assert decision.allowed == (not decision.violations)


_WORDS = st.sampled_from(
    ["osmo", "workflow", "submit", "kubectl", "helm", "delete", "scale", "--set", "--set-string", "--replicas=0",
     "-n", "osmo-nims", "bash", "-c", "echo", "$HF_TOKEN", "&&", "|", ";", "'", '"', "(", ")", "<<<", ">", "x.yaml",
     "run_id=run-1", "video=a/b", "hf", "download", "--repo-type", "dataset", "curl", "a.mp4", "sudo", "env", "FOO=1"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WORDS | st.text(max_size=12), max_size=25))
def test_check_command_never_raises_on_words(words):
    assert isinstance(check_command(" ".join(words)), Decision)
    assert isinstance(check_command(words), Decision)


# --- the CLI ---------------------------------------------------------------------------------------------------


def test_cli_check_command_json_denied(capsys):
    code = main(["policy", "check-command", "--json", "--", "kubectl scale deploy qwen3-vl --replicas=0 -n osmo-nims"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["allowed"] is False
    assert out["violations"][0]["rule"] == "no-nim-scale-down"
    assert set(out["violations"][0]) == {"rule", "message", "remedy"}


def test_cli_check_command_allowed(capsys):
    code = main(["policy", "check-command", "--json", "--", CANONICAL])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"allowed": True, "violations": []}


def test_cli_check_command_text_and_flags(capsys):
    external = submit(vlm_url="https://integrate.api.nvidia.com/v1")
    assert main(["policy", "check-command", "--", external]) == 1
    assert "external-endpoints-opt-in" in capsys.readouterr().out
    assert main(["policy", "check-command", "--external-endpoints-allowed", "--", external]) == 0
    assert main(["policy", "check-command", "--demo-override", "--", "hf", "download", "a/b", "--repo-type", "dataset"]) == 0


def test_cli_output_redacts_secrets(capsys):
    main(["policy", "check-command", "--json", "--", f"echo {TOKEN}"])
    assert TOKEN not in capsys.readouterr().out


def test_cli_rules_lists_the_catalogue(capsys):
    assert main(["policy", "rules", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [rule["id"] for rule in listed] == list(RULES)
    assert all(set(rule) == {"id", "text", "judged_on", "remedy"} for rule in listed)
    assert main(["policy", "rules"]) == 0
    assert "single-set-string" in capsys.readouterr().out
