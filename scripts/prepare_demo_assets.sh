#!/usr/bin/env bash
# Pull the VDA demo videos from Hugging Face and flatten them into DEMO_DIR (raw tree in DEMO_DIR_raw).
#   prepare_demo_assets.sh [DEMO_DIR]      (default <workspace>/media/vda/inputs/vda-demo)
# Env: HF_DEMO_DATASET_REPO (default nvidia/video-data-augmentation-demo), HF_DEMO_DATASET_REVISION
# (main), HF_DEMO_DATASET_SUBDIR (empty), ALLOW_NON_VDA_DEMO_DATASET=1 to allow another repo,
# HF_TOKEN / HUGGING_FACE_HUB_TOKEN (optional, sent as a Bearer header, never printed).
# Exit 0 ok, 1 failure, 2 bad arguments. Thin entry into `vda demo`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${VDA_PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
if [ $# -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo "usage: $0 [DEMO_DIR]" >&2
  exit 2
fi
args=(demo)
[ $# -eq 1 ] && args+=("$1")
args+=(--repo "${HF_DEMO_DATASET_REPO:-nvidia/video-data-augmentation-demo}")
args+=(--revision "${HF_DEMO_DATASET_REVISION:-main}")
args+=(--subdir "${HF_DEMO_DATASET_SUBDIR:-}")
[ "${ALLOW_NON_VDA_DEMO_DATASET:-0}" = "1" ] && args+=(--allow-non-vda)
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m tools.cli "${args[@]}"
