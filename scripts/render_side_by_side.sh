#!/usr/bin/env bash
# Render input | augmented (at the input's own height, at most 720) from a staged run into <run>/display/.
#   render_side_by_side.sh --run-local-dir DIR --dataset NAME --video STEM [--aug-index 0]
# Prints COMPARE_VIDEO=, INPUT_VIDEO=, AUGMENTED_VIDEO= (and COMPARE_KIND=video|png, the MEDIA line).
# Exit 0 ok, 1 failure, 2 bad arguments. Thin entry into `vda compare`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${VDA_PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
usage() { echo "usage: $0 --run-local-dir DIR --dataset NAME --video STEM [--aug-index N]" >&2; exit 2; }
[ $# -gt 0 ] || usage
case " $* " in *" --help "*|*" -h "*) usage ;; esac
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m tools.cli compare "$@"
