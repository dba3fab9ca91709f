#!/usr/bin/env bash
# Auto-labeling worker for the dataset's original videos (task pl_original_worker_<w>). Labels every
# video of VIDEO_INPUT assigned to this worker (only those VDA_ONLY_VIDEO names, comma-separated, when the setup's .env sets it):
# the videos sorted by name, video i going to worker i % NUM_WORKERS. Each writes the DAFT layout into OUTPUT_DIR/<video>/.
#
# Env in: SETUP_DIR, VIDEO_INPUT, OUTPUT_DIR, WORKER_ID (0), NUM_WORKERS (1), BARRIER_{RANK,NUM_NODES,HOST},
#         VDA_GROUP_BARRIER_PORT (default 12344), SUPER_RESOLUTION_ENABLED (from .env; default false).
#   local executor (VDA_BACKEND=local): VDA_PYTHON, PYTHONPATH, VDA_LABEL_ENGINE (auto = classic; nim to call
#         the VLM/LLM at VLM_URL/LLM_URL) -> python -m skill.engines.label.
#   OSMO (paidf-auto-labeling image): VLM_URL, LLM_URL, MODEL_CACHE_PATH, keys -> uv run python modules/cli.py.
# A failing video stops the worker: "ERROR: PL failed for <video> (exit code N)".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
VDA_WORKER_NAME="pl_original_worker_${WORKER_ID:-0}"
# shellcheck source=endpoint_common.sh
. "$here/endpoint_common.sh"

vda_require_env SETUP_DIR VIDEO_INPUT OUTPUT_DIR
vda_load_env_file "$SETUP_DIR"
worker="${WORKER_ID:-0}"
workers="${NUM_WORKERS:-1}"
vda_barrier_init BARRIER_ 12344
sr="${SUPER_RESOLUTION_ENABLED:-false}"
mkdir -p "$OUTPUT_DIR"
videos="$(vda_list_videos "$VIDEO_INPUT")"
if [ -n "${VDA_ONLY_VIDEO:-}" ]; then  # the setup task's choice: upstream's one named video
  videos="$(awk -F '\t' -v s="$VDA_ONLY_VIDEO" 'BEGIN { n = split(s, w, ","); for (i = 1; i <= n; i++) want[w[i]] = 1 } ($1 in want)' <<< "$videos")"
  [ -n "$videos" ] || vda_die "no video named $VDA_ONLY_VIDEO in $VIDEO_INPUT (pass a clip the dataset holds, or all_clips=true)"
fi
SETUP_DIR="$(vda_abs "$SETUP_DIR")"; OUTPUT_DIR="$(vda_abs "$OUTPUT_DIR")"
al_config="$SETUP_DIR/configs/auto_labeling/auto_labeling_config.yaml"
bank="$SETUP_DIR/configs/auto_labeling/question_bank.json"
[ -f "$al_config" ] || vda_die "$al_config is missing (the cookbook was not staged by the setup task)"
mine="$(printf '%s\n' "$videos" | vda_assigned "$worker" "$workers")"
echo "=== pl_original_worker $worker/$workers: $(printf '%s' "$mine" | grep -c . || true) of $(printf '%s\n' "$videos" | grep -c .) video(s), super resolution $sr ==="

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
while IFS=$'\t' read -r name video; do
  [ -n "${name:-}" ] || continue
  out="$OUTPUT_DIR/$name"
  mkdir -p "$out"
  echo "--- $name: $video"
  rc=0
  if vda_is_local; then
    args=(--engine "$engine" --video "$video" --output-dir "$out" --config "$al_config" --super-resolution "$sr")
    [ ! -f "$bank" ] || args+=(--question-bank "$bank")
    [ "$engine" != "nim" ] || args+=(--vlm-url "${VLM_URL:-}" --llm-url "${LLM_URL:-}")
    [ "$engine" != "nim" ] || [ -z "${VDA_VLM_MODEL:-}" ] || args+=(--vlm-model "$VDA_VLM_MODEL")
    [ "$engine" != "nim" ] || [ -z "${VDA_LLM_MODEL:-}" ] || args+=(--llm-model "$VDA_LLM_MODEL")
    "$py" -m skill.engines.label "${args[@]}" || rc=$?
  else
    uv run python modules/cli.py --config "$al_config" \
      "data.0.inputs.video_path=$video" "data.0.output.out_dir=$out" \
      "super_resolution.enabled=$sr" "${VDA_AL_OVERRIDES[@]}" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "ERROR: PL failed for $name (exit code $rc)" >&2
    vda_group_barrier_failed
    exit "$rc"
  fi
  done_items+=("$name")
done <<< "$mine"

echo "=== pl_original_worker complete: worker $worker/$workers, $(vda_count "${done_items[@]}") video(s): ${done_items[*]:-none} ==="
vda_group_barrier
