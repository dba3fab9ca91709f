#!/usr/bin/env bash
# preflight_credentials.sh [--no-probe] [--workflow <yaml>|--workflow=<yaml>] [--refresh|--overwrite]
#
# Thin entry into `vda preflight` with upstream's flags and exit codes:
#   0 ready; 1 a check failed or the user must supply something (USER_INPUT_REQUIRED on stderr);
#   2 usage (unknown argument, or a --workflow file that does not exist).
# The backend is $VDA_BACKEND (default osmo, as upstream); the python is $VDA_PYTHON, else the
# checkout's .venv, else python3.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

usage() {
  echo "usage: $(basename "$0") [--no-probe] [--workflow <yaml>|--workflow=<yaml>] [--refresh|--overwrite]" >&2
  exit 2
}

args=()
workflow=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --no-probe) args+=(--no-probe) ;;
    --refresh|--overwrite) args+=(--refresh) ;;
    --workflow=*) workflow="${1#--workflow=}"; [ -n "$workflow" ] || usage ;;
    --workflow) [ "$#" -ge 2 ] || usage; workflow="$2"; shift ;;
    *) usage ;;
  esac
  shift
done

if [ -n "$workflow" ]; then
  if [ -f "$workflow" ]; then
    workflow="$(cd "$(dirname "$workflow")" && pwd)/$(basename "$workflow")"
  elif [[ "$workflow" =~ ^[A-Za-z0-9_]+$ ]] && [ -f "$root/assets/configs/osmo/$workflow.yaml" ]; then
    :
  else
    echo "workflow file not found: $workflow" >&2
    usage
  fi
  args+=(--workflow "$workflow")
fi

python="${VDA_PYTHON:-$here/../.venv/bin/python}"
if [ ! -x "$python" ]; then
  python="$(command -v python3 || true)"
  [ -n "$python" ] || { echo "ERROR: no python found (set VDA_PYTHON)" >&2; exit 1; }
fi

cd "$root"
status=0
"$python" -m tools.cli preflight --backend "${VDA_BACKEND:-osmo}" "${args[@]}" || status=$?
# the CLI exits 0 ok, 1 failed/blocked; anything else (e.g. an argparse error) is a usage problem
case "$status" in
  0|1) exit "$status" ;;
  2) exit 2 ;;
  *) exit 1 ;;
esac
