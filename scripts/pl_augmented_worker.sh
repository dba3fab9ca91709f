#!/usr/bin/env bash
# Auto-labeling worker for augmented clips (task pl_augmented_worker_<w>). Takes the same items as
# cosmos_worker_<w> (the clip configs in manifest order, item i to worker i % NUM_WORKERS) and labels
# COSMOS_INPUT/<video>_aug<i>/augmented_video.mp4 into OUTPUT_DIR/<video>_aug<i>/ (DAFT layout).
# Locally the clip's sampled variables (the augment metadata.json "variables") go to the labeler.
#
# Env in: SETUP_DIR, COSMOS_INPUT (cosmos_worker_<w>'s output), OUTPUT_DIR, WORKER_ID (0), NUM_WORKERS (1),
#         BARRIER_{RANK,NUM_NODES,HOST}, VDA_GROUP_BARRIER_PORT (default 12344).
#   local executor (VDA_BACKEND=local): VDA_PYTHON, PYTHONPATH, VDA_LABEL_ENGINE (auto = classic; nim
#         with VLM_URL/LLM_URL, VDA_VLM_MODEL/VDA_LLM_MODEL) -> python -m skill.engines.label.
#   OSMO (paidf-auto-labeling image): VLM_URL, LLM_URL, MODEL_CACHE_PATH, keys -> uv run python modules/cli.py
#         (super resolution stays as the cookbook sets it).
# A failing clip stops the worker: "ERROR: PL augmented failed for <video>_aug<i> (exit code N)".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
VDA_WORKER_NAME="pl_augmented_worker_${WORKER_ID:-0}"
# shellcheck source=endpoint_common.sh
. "$here/endpoint_common.sh"

vda_require_env SETUP_DIR COSMOS_INPUT OUTPUT_DIR
vda_load_env_file "$SETUP_DIR"
worker="${WORKER_ID:-0}"
workers="${NUM_WORKERS:-1}"
vda_barrier_init BARRIER_ 12344
mkdir -p "$OUTPUT_DIR"
SETUP_DIR="$(vda_abs "$SETUP_DIR")"; OUTPUT_DIR="$(vda_abs "$OUTPUT_DIR")"; COSMOS_INPUT="$(vda_abs "$COSMOS_INPUT")"
al_config="$SETUP_DIR/configs/auto_labeling/auto_labeling_config.yaml"
bank="$SETUP_DIR/configs/auto_labeling/question_bank.json"
[ -f "$al_config" ] || vda_die "$al_config is missing (the cookbook was not staged by the setup task)"
items="$(vda_config_items "$SETUP_DIR/configs")"
[ -n "$items" ] || vda_die "no clip configs in $SETUP_DIR/configs (did generate_configs run in the setup task?)"
mine="$(printf '%s\n' "$items" | vda_assigned "$worker" "$workers")"
echo "=== pl_augmented_worker $worker/$workers: $(printf '%s' "$mine" | grep -c . || true) of $(printf '%s\n' "$items" | grep -c .) clip(s) ==="

if vda_is_local; then
  py="${VDA_PYTHON:?VDA_PYTHON is set by the local executor}"
  VDA_BARRIER_PYTHON="$py"
  engine="$(vda_local_engine label "${VDA_LABEL_ENGINE:-auto}")"
  # the lead listens on this machine once its own work is done: a refused connect costs microseconds,
  # a late retry holds the whole group (up to the interval)
  export VDA_BARRIER_RETRY_INTERVAL="${VDA_BARRIER_RETRY_INTERVAL:-0.05}"
else
  vda_container_engine label "${VDA_LABEL_ENGINE:-auto}"
  vda_prepare_al_container
  VDA_BARRIER_PYTHON="python3"
fi

done_items=()
while IFS=$'\t' read -r config video_name aug_idx; do
  [ -n "${config:-}" ] || continue
  name="${video_name}_aug${aug_idx}"
  clip="$COSMOS_INPUT/$name/augmented_video.mp4"
  out="$OUTPUT_DIR/$name"
  mkdir -p "$out"
  rc=0
  if [ ! -f "$clip" ]; then
    echo "no augmented clip at $clip (did cosmos_worker_$worker finish?)" >&2
    rc=1
  elif vda_is_local; then
    echo "--- $name: $clip"
    args=(--engine "$engine" --video "$clip" --output-dir "$out" --config "$al_config")
    # classic: adopt the scene cosmos_worker labeled ahead for exactly this job, if there is one
    [ "$engine" != "classic" ] || [ -z "${VDA_RUN_CACHE:-}" ] || args+=(--ahead-cache "$VDA_RUN_CACHE")
    [ ! -f "$bank" ] || args+=(--question-bank "$bank")
    # the label engine reads the sampled variables from the augment engine's metadata itself
    [ ! -f "$COSMOS_INPUT/$name/metadata.json" ] || args+=(--augment-metadata "$COSMOS_INPUT/$name/metadata.json")
    [ "$engine" != "nim" ] || args+=(--vlm-url "${VLM_URL:-}" --llm-url "${LLM_URL:-}")
    [ "$engine" != "nim" ] || [ -z "${VDA_VLM_MODEL:-}" ] || args+=(--vlm-model "$VDA_VLM_MODEL")
    [ "$engine" != "nim" ] || [ -z "${VDA_LLM_MODEL:-}" ] || args+=(--llm-model "$VDA_LLM_MODEL")
    [ "$rc" -ne 0 ] || "$py" -m skill.engines.label "${args[@]}" || rc=$?
  else
    echo "--- $name: $clip"
    uv run python modules/cli.py --config "$al_config" \
      "data.0.inputs.video_path=$clip" "data.0.output.out_dir=$out" "${VDA_AL_OVERRIDES[@]}" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "ERROR: PL augmented failed for $name (exit code $rc)" >&2
    vda_group_barrier_failed
    exit "$rc"
  fi
  done_items+=("$name")
done <<< "$mine"

echo "=== pl_augmented_worker complete: worker $worker/$workers, $(vda_count "${done_items[@]}") clip(s): ${done_items[*]:-none} ==="
vda_group_barrier
