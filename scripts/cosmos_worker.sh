#!/usr/bin/env bash
# Augmentation worker (task cosmos_worker_<w>). Augments every clip config assigned to this worker:
# the configs of <SETUP_DIR>/configs in manifest order, item i going to worker i % NUM_WORKERS.
# Each item writes OUTPUT_DIR/<video>_aug<i>/{augmented_video.mp4, metadata.json}.
#
# Env in: SETUP_DIR, VIDEO_INPUT (dataset folder), OUTPUT_DIR, WORKER_ID (0), NUM_WORKERS (1),
#         COSMOS_BARRIER_{RANK,NUM_NODES,HOST}, VDA_GROUP_BARRIER_PORT (default 12346).
#   local executor (VDA_BACKEND=local): VDA_PYTHON, PYTHONPATH, VDA_AUGMENT_ENGINE (auto = classic; cosmos to
#         run the container CLI from this machine) -> python -m skill.engines.augment; VDA_RUN_CACHE (the run's
#         cache folder, outside the outputs) where the engine also leaves each input|augmented comparison and,
#         when VDA_LABEL_ENGINE is auto/classic, each clip's labels made ahead for pl_augmented_worker to adopt.
#   OSMO (paidf-augmentation image): VLM_URL, LLM_URL, HF_HUB_CACHE, keys, and from .env
#         WAIT_FOR_VLM/WAIT_FOR_LLM/VLM_MODEL/LLM_MODEL_STATIC -> uv run python modules/cli.py.
# A failing item stops the worker: "ERROR: augmentation failed for <video>_aug<i> (exit code N)".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
VDA_WORKER_NAME="cosmos_worker_${WORKER_ID:-0}"
# shellcheck source=endpoint_common.sh
. "$here/endpoint_common.sh"

vda_require_env SETUP_DIR VIDEO_INPUT OUTPUT_DIR
vda_load_env_file "$SETUP_DIR"
worker="${WORKER_ID:-0}"
workers="${NUM_WORKERS:-1}"
vda_barrier_init COSMOS_BARRIER_ 12346
mkdir -p "$OUTPUT_DIR"
SETUP_DIR="$(vda_abs "$SETUP_DIR")"; OUTPUT_DIR="$(vda_abs "$OUTPUT_DIR")"; VIDEO_INPUT="$(vda_abs "$VIDEO_INPUT")"
configs="$SETUP_DIR/configs"
videos="$(vda_list_videos "$VIDEO_INPUT")"

items="$(vda_config_items "$configs")"
[ -n "$items" ] || vda_die "no clip configs in $configs (did generate_configs run in the setup task?)"
mine="$(printf '%s\n' "$items" | vda_assigned "$worker" "$workers")"
echo "=== cosmos_worker $worker/$workers: $(printf '%s' "$mine" | grep -c . || true) of $(printf '%s\n' "$items" | grep -c .) clip(s) ==="

if vda_is_local; then
  py="${VDA_PYTHON:?VDA_PYTHON is set by the local executor}"
  VDA_BARRIER_PYTHON="$py"
  engine="$(vda_local_engine augment "${VDA_AUGMENT_ENGINE:-auto}")"
  [ -z "${VDA_VLM_MODEL:-}" ] || export VLM_MODEL="$VDA_VLM_MODEL"
  [ -z "${VDA_LLM_MODEL:-}" ] || export LLM_MODEL="$VDA_LLM_MODEL"
  # the lead listens on this machine once its own work is done: a refused connect costs microseconds,
  # a late retry holds the whole group (up to the interval)
  export VDA_BARRIER_RETRY_INTERVAL="${VDA_BARRIER_RETRY_INTERVAL:-0.05}"
else
  # --- the paidf-augmentation container ---
  vda_container_engine augment "${VDA_AUGMENT_ENGINE:-auto}"
  export UV_PROJECT_ENVIRONMENT=/app/.venv
  vda_fanout_keys
  VLM_URL="$(vda_default_base_url "${VLM_URL:-}")" || vda_die "VLM_URL is empty or not a URL"
  LLM_URL="$(vda_default_base_url "${LLM_URL:-}")" || vda_die "LLM_URL is empty or not a URL"
  if [ "${WAIT_FOR_VLM:-0}" = "1" ]; then
    vda_wait_for_models VLM "$VLM_URL" "$(vda_auth_header "${VLM_API_KEY:-}")"
    VLM_URL="$VDA_RESOLVED_URL"
    VLM_MODEL="$(vda_model_id "$VDA_MODELS_JSON")"
    [ -n "$VLM_MODEL" ] || vda_die "the VLM at $VLM_URL lists no model id"
  fi
  if [ "${WAIT_FOR_LLM:-0}" = "1" ]; then
    vda_wait_for_models LLM "$LLM_URL" "$(vda_auth_header "${LLM_API_KEY:-}")"
    LLM_URL="$VDA_RESOLVED_URL"
    LLM_MODEL="$(vda_model_id "$VDA_MODELS_JSON")"
    [ -n "$LLM_MODEL" ] || vda_die "the LLM at $LLM_URL lists no model id"
  else
    LLM_MODEL="${LLM_MODEL_STATIC:-}"
  fi
  [ -z "${VDA_VLM_MODEL:-}" ] || VLM_MODEL="$VDA_VLM_MODEL"
  [ -z "${VDA_LLM_MODEL:-}" ] || LLM_MODEL="$VDA_LLM_MODEL"
  # The model cache is mounted read-only; give the CLI a writable mirror of symlinks. The cache
  # workflow stores repos under hub/, so look there as well as at the top.
  if [ -d "${HF_HUB_CACHE:-}" ]; then
    mirror="$(mktemp -d)"
    for repo in "$HF_HUB_CACHE"/models--* "$HF_HUB_CACHE"/hub/models--*; do
      [ -d "$repo" ] || continue
      mkdir -p "$mirror/$(basename "$repo")"
      for child in "$repo"/*; do
        [ -e "$child" ] || continue
        ln -sfn "$child" "$mirror/$(basename "$repo")/$(basename "$child")"
      done
    done
    vda_log "writable HF cache mirror: $(find "$mirror" -mindepth 1 -maxdepth 1 | wc -l) repo(s)"
    export HF_HUB_CACHE="$mirror"
  fi
  app_dir="${VDA_COSMOS_APP_DIR:-/app}"
  cd "$app_dir"
  VDA_BARRIER_PYTHON="python3"
  [ ! -x /app/.venv/bin/python ] || VDA_BARRIER_PYTHON=/app/.venv/bin/python
fi

# run_container_item VIDEO CONFIG OUT NAME: the container CLI with upstream's overrides (keys as in our cookbooks).
run_container_item() {
  local video="$1" cfg="$2" out="$3" name="$4" rc=0 marker prompts="$configs/augmentation/prompts" found
  local args=(--config "$cfg"
    "data.0.inputs.rgb=$video"
    "data.0.output.video=$out/augmented_video.mp4"
    "data.0.output.metadata=$out/metadata.json"
    "data.0.output.caption=$out/caption.txt"
    "captioning.vlm.parser=instruct"
    "endpoints.vlm.url=$VLM_URL" "endpoints.llm.url=$LLM_URL")
  # an empty "key=" reaches the schema as null, which endpoints.*.model (a string) rejects
  [ -z "${VLM_MODEL:-}" ] || args+=("endpoints.vlm.model=$VLM_MODEL")
  [ -z "${LLM_MODEL:-}" ] || args+=("endpoints.llm.model=$LLM_MODEL")
  [ ! -f "$prompts/template_generation_system_prompt.md" ] || args+=("template_generation.system_prompt_file=$prompts/template_generation_system_prompt.md")
  [ ! -f "$prompts/prompt_polishing_system_prompt.md" ] || args+=("template_generation.prompt_polishing_file=$prompts/prompt_polishing_system_prompt.md")
  marker="$(mktemp)"
  uv run python modules/cli.py "${args[@]}" || rc=$?
  if [ ! -f "$out/augmented_video.mp4" ]; then
    found="$(find /tmp -maxdepth 4 -type f \( -name cosmos_transfer_inference.mp4 -o -name "$name.mp4" \) -newer "$marker" 2>/dev/null | head -n 1)"
    if [ -n "$found" ]; then
      cp "$found" "$out/augmented_video.mp4"
      [ "$rc" -eq 0 ] || echo "WARNING: the Cosmos CLI exited $rc for $name; recovered its output from $found" >&2
      rc=0
    elif [ "$rc" -eq 0 ]; then
      echo "the Cosmos CLI exited 0 but wrote no augmented_video.mp4 for $name" >&2
      rc=1
    fi
  fi
  rm -f "$marker"
  return "$rc"
}

# Local, classic labels: each clip is labeled into the run cache as soon as it is augmented, in the
# background while the next one is augmented (one at a time); the label task adopts that scene
# (skill/engines/label_ahead.py). Silent: outcomes go to the cache's labels/prepare.log, never here.
ahead_pid=""
label_ahead() {  # label_ahead OUT
  local out="$1" al="$SETUP_DIR/configs/auto_labeling" args
  vda_is_local && [ -n "${VDA_RUN_CACHE:-}" ] && [ -f "$al/auto_labeling_config.yaml" ] || return 0
  case "${VDA_LABEL_ENGINE:-auto}" in auto|classic) ;; *) return 0 ;; esac
  mkdir -p "$VDA_RUN_CACHE/labels" 2>/dev/null || return 0
  args=(--cache "$VDA_RUN_CACHE" --engine classic --video "$out/augmented_video.mp4" --config "$al/auto_labeling_config.yaml")
  [ ! -f "$al/question_bank.json" ] || args+=(--question-bank "$al/question_bank.json")
  [ ! -f "$out/metadata.json" ] || args+=(--augment-metadata "$out/metadata.json")
  [ -z "$ahead_pid" ] || wait "$ahead_pid" || :  # one at a time; a failed prepare already wrote its reason
  "$py" -m skill.engines.label_ahead "${args[@]}" >>"$VDA_RUN_CACHE/labels/prepare.log" 2>&1 &
  ahead_pid=$!
}

done_items=()
while IFS=$'\t' read -r config video_name aug_idx; do
  [ -n "${config:-}" ] || continue
  name="${video_name}_aug${aug_idx}"
  out="$OUTPUT_DIR/$name"
  mkdir -p "$out"
  rc=0
  video="$(vda_lookup_video "$videos" "$video_name")" || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "--- $name: $video"
    if vda_is_local; then
      extra=()  # the run's cache: the classic engine leaves the side-by-side there (see skill/side_by_side.py)
      [ -z "${VDA_RUN_CACHE:-}" ] || extra=(--compare-cache "$VDA_RUN_CACHE")
      "$py" -m skill.engines.augment --engine "$engine" --config "$configs/$config" --video "$video" --output-dir "$out" "${extra[@]}" || rc=$?
    else
      run_container_item "$video" "$configs/$config" "$out" "$name" || rc=$?
    fi
  fi
  if [ "$rc" -ne 0 ]; then
    echo "ERROR: augmentation failed for $name (exit code $rc)" >&2
    vda_group_barrier_failed
    exit "$rc"
  fi
  label_ahead "$out"
  done_items+=("$name")
done <<< "$mine"
[ -z "$ahead_pid" ] || wait "$ahead_pid" || :  # the last clip's labels, before the group may end

echo "=== cosmos_worker complete: worker $worker/$workers, $(vda_count "${done_items[@]}") clip(s): ${done_items[*]:-none} ==="
vda_group_barrier
