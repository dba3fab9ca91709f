#!/usr/bin/env bash
# The setup task of every VDA flow. Staged with its siblings (worker scripts, endpoint_common.sh,
# osmo_barrier.py, generate_configs.py) and the cookbook under sdg/; finds them next to itself.
#
# Env in:  FLOW (auto_labeling | augmentation_and_al | augmentation_and_pl | e2e | e2e_super_resolution),
#          OUTPUT_DIR (the task output token), DATASET_INPUT (the dataset mount; not needed for auto_labeling),
#          optional RUN_ID, N_AUGMENTATIONS ("cookbook" or a number), COOKBOOK, VLM_MODEL,
#          VIDEO_NAME (the one clip, upstream's video) unless ALL_CLIPS is true (every clip of the dataset)
#          or CLIPS names several (stems, comma-separated: a fan-out batch),
#          CONDITIONS (variable:option,... fixed for every clip), SEED (digits: reproducible draws;
#          default derived from RUN_ID, so each run draws anew),
#          BARRIER_NUM_NODES, SUPER_RESOLUTION_ENABLED.
#          Local executor: VDA_BACKEND=local, VDA_PYTHON. On OSMO python3 + PyYAML are installed
#          only when missing.
# Out:     OUTPUT_DIR/{*.sh, osmo_barrier.py}, OUTPUT_DIR/configs/ (the cookbook, and except for
#          auto_labeling the per-clip configs + manifest.yaml + manifest.tsv), OUTPUT_DIR/.env and
#          OUTPUT_DIR/runtime.env (upstream's keys for the flow, plus VDA_FLOW).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
VDA_WORKER_NAME="setup"
# shellcheck source=endpoint_common.sh
. "$here/endpoint_common.sh"

vda_require_env FLOW OUTPUT_DIR
flow="$FLOW"
case "$flow" in
  augmentation_and_pl) flow="augmentation_and_al" ;;
  auto_labeling|augmentation_and_al|e2e|e2e_super_resolution) ;;
  *) vda_die "FLOW='$FLOW' is not one of auto_labeling, augmentation_and_al, e2e, e2e_super_resolution" ;;
esac
[ "$flow" = "auto_labeling" ] || vda_require_env DATASET_INPUT
[ -d "$here/sdg" ] || vda_die "the cookbook files were not staged next to $0 (expected $here/sdg/)"

# which clips this run processes: upstream's one named video, or every clip of the dataset when asked
only=""
case "${ALL_CLIPS:-false}" in
  true|True|TRUE|1) ;;
  false|False|FALSE|0|"") only="${VIDEO_NAME:-}" ;;
  *) vda_die "ALL_CLIPS='$ALL_CLIPS' must be true or false" ;;
esac
[ -z "${CLIPS:-}" ] || only="$CLIPS"  # a fan-out batch names its clips

echo "=== setup: flow $flow, run ${RUN_ID:-?}, clips: ${only:-all of the dataset} ==="
mkdir -p "$OUTPUT_DIR/configs"

# 1. the scripts the workers run from the setup output (input 0 of each worker)
scripts=()
for f in "$here"/*.sh "$here/osmo_barrier.py"; do
  [ -f "$f" ] && scripts+=("$f")
done
if [ -n "${scripts[*]:-}" ]; then  # one cp and one chmod for all of them
  cp "${scripts[@]}" "$OUTPUT_DIR/"
  chmod +x "${scripts[@]/#$here/$OUTPUT_DIR}"
fi

# 2. the cookbook
cp -R "$here/sdg/." "$OUTPUT_DIR/configs/"

# 3. per-(video, aug) configs
ensure_python() {
  if vda_is_local || [ -n "${VDA_PYTHON:-}" ]; then
    py="${VDA_PYTHON:?VDA_PYTHON is set by the local executor}"
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "installing python3 (missing in this image)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-yaml >/dev/null
  fi
  if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    echo "installing PyYAML (missing in this image)"
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null
    else
      python3 -m pip install -q pyyaml
    fi
  fi
  py="python3"
}

if [ "$flow" != "auto_labeling" ]; then
  ensure_python
  gen_args=("$DATASET_INPUT" "$OUTPUT_DIR/configs" "$OUTPUT_DIR/configs")
  n_aug="${N_AUGMENTATIONS:-cookbook}"
  case "$n_aug" in
    ""|cookbook) ;;
    *[!0-9]*) vda_die "N_AUGMENTATIONS='$n_aug' must be 'cookbook' or a whole number" ;;
    *) gen_args+=(--n-augmentations "$n_aug") ;;
  esac
  [ -z "${COOKBOOK:-}" ] || gen_args+=(--cookbook "$COOKBOOK")
  [ -z "$only" ] || gen_args+=(--only "$only")
  if [ -n "${CONDITIONS:-}" ]; then
    IFS=',' read -r -a fixed <<< "$CONDITIONS"
    for item in "${fixed[@]}"; do gen_args+=(--condition "$item"); done
  fi
  case "${SEED:-}" in
    "") [ -z "${RUN_ID:-}" ] || gen_args+=(--run-id "$RUN_ID") ;;
    *[!0-9]*) vda_die "SEED='$SEED' must be digits" ;;
    *) gen_args+=(--seed "$SEED") ;;
  esac
  "$py" "$here/generate_configs.py" "${gen_args[@]}"
  echo "configs:"
  ls -1 "$OUTPUT_DIR/configs"
fi

# 4. the worker environment file (read by vda_load_env_file; values hold no quotes or newlines)
env_line() {
  local key="$1" value="${2:-}"
  case "$value" in
    *$'\n'*|*"'"*|*'"'*) vda_die "value of $key holds a quote or newline; refusing to write it" ;;
  esac
  if [[ "$value" =~ ^[A-Za-z0-9_./:@+,=-]*$ ]]; then printf '%s=%s\n' "$key" "$value"
  else printf "%s='%s'\n" "$key" "$value"
  fi
}
{
  env_line VDA_FLOW "$flow"
  env_line ACCEPT_EULA Y
  env_line UV_NO_SYNC 1
  env_line DOWNLOAD_REID false
  env_line WAIT_FOR_VLM 1
  env_line WAIT_FOR_LLM 1
  env_line LLM_MODEL_STATIC ""
  env_line VLM_MODEL "${VLM_MODEL:-Qwen/Qwen3-VL-30B-A3B-Instruct}"
  env_line VDA_ONLY_VIDEO "$only"
  case "$flow" in
    auto_labeling|e2e) env_line SUPER_RESOLUTION_ENABLED "${SUPER_RESOLUTION_ENABLED:-false}" ;;
    e2e_super_resolution) env_line SUPER_RESOLUTION_ENABLED "${SUPER_RESOLUTION_ENABLED:-true}" ;;
  esac
  case "$flow" in
    auto_labeling|augmentation_and_al) env_line BARRIER_NUM_NODES "${BARRIER_NUM_NODES:-1}" ;;
  esac
} > "$OUTPUT_DIR/.env"
cp "$OUTPUT_DIR/.env" "$OUTPUT_DIR/runtime.env"

count=0
[ ! -f "$OUTPUT_DIR/configs/manifest.tsv" ] || count="$(grep -c . "$OUTPUT_DIR/configs/manifest.tsv" || true)"
echo "=== setup complete: flow $flow, $count clip config(s) ==="
