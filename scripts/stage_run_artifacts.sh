#!/usr/bin/env bash
# Mirror a run's outputs and its input video into media/vda/runs/<run_id>/ (no git checkout needed).
#   stage_run_artifacts.sh --storage-url URL --dataset NAME --run-id run-xxxxxxxx --video STEM \
#                          [--run-local-dir DIR] [--input-local-video FILE]
# Prints LOCAL_RUN_DIR=, LOCAL_INPUT_VIDEO=, LOCAL_AUGMENTED_VIDEO=, LOCAL_MANIFEST=,
# LOCAL_AUG_LABEL_DIR=, LOCAL_ORIG_LABEL_DIR=. Exit 0 ok, 1 failure, 2 bad arguments.
# Backend: VDA_BACKEND=osmo|local (default osmo, as upstream). Thin entry into `vda stage`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${VDA_PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
usage() { echo "usage: $0 --storage-url URL --dataset NAME --run-id RUN_ID --video STEM [--run-local-dir DIR] [--input-local-video FILE]" >&2; exit 2; }
[ $# -gt 0 ] || usage
case " $* " in *" --help "*|*" -h "*) usage ;; esac
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m tools.cli stage --backend "${VDA_BACKEND:-osmo}" "$@"
