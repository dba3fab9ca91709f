#!/usr/bin/env bash
# Prepare the conformance tests (tests/contract/conformance/) from checkouts you already have.
#
#   scripts/dev/conformance_setup.sh --osmo DIR [--al DIR] [--aug DIR] [--venv DIR]
#
#   --osmo DIR   a checkout of NVIDIA/OSMO at tag 6.3.1 (must hold src/cli/main_parser.py)
#   --al DIR     a checkout of NVIDIA/paidf-auto-labeling (optional)
#   --aug DIR    a checkout of NVIDIA/paidf-augmentation (optional)
#   --venv DIR   where to create OSMO's interpreter (default: .conformance-venv next to --osmo)
#
# OSMO's CLI needs Python 3.12: $PYTHON312 if set, else pyenv's newest 3.12, else python3.12 on
# PATH. The venv gets OSMO's own src/requirements.txt (from your configured package index). Nothing
# is downloaded from anywhere else and nothing is copied into this repository. At the end the
# script prints the export lines; then run:  ./run test tests/contract/conformance -rs
set -euo pipefail

usage() { sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

osmo="" al="" aug="" venv=""
while [ $# -gt 0 ]; do
  case "$1" in
    --osmo) [ $# -ge 2 ] || usage; osmo="$2"; shift 2 ;;
    --al)   [ $# -ge 2 ] || usage; al="$2"; shift 2 ;;
    --aug)  [ $# -ge 2 ] || usage; aug="$2"; shift 2 ;;
    --venv) [ $# -ge 2 ] || usage; venv="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "conformance_setup: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$osmo" ] || { echo "conformance_setup: --osmo is required" >&2; usage; }

die() { echo "conformance_setup: $*" >&2; exit 1; }
absdir() { (cd "$1" && pwd) || die "$1 is not a folder"; }

osmo="$(absdir "$osmo")"
[ -f "$osmo/src/cli/main_parser.py" ] || die "$osmo is not an OSMO checkout (src/cli/main_parser.py missing)"
[ -f "$osmo/src/requirements.txt" ] || die "$osmo has no src/requirements.txt"
if [ -n "$al" ]; then al="$(absdir "$al")"; [ -d "$al/modules" ] || die "$al is not a paidf-auto-labeling checkout (modules/ missing)"; fi
if [ -n "$aug" ]; then aug="$(absdir "$aug")"; [ -d "$aug/modules" ] || die "$aug is not a paidf-augmentation checkout (modules/ missing)"; fi

find_python312() {
  if [ -n "${PYTHON312:-}" ]; then echo "$PYTHON312"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    local version
    version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V | tail -1 || true)"
    if [ -n "$version" ]; then echo "$(pyenv root)/versions/$version/bin/python3.12"; return; fi
  fi
  command -v python3.12 || true
}
py="$(find_python312)"
[ -n "$py" ] && [ -x "$py" ] || die "no Python 3.12 found: set PYTHON312=/path/to/python3.12 (or install 3.12 with pyenv)"
"$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' || die "$py is not Python 3.12"

venv="${venv:-$(dirname "$osmo")/.conformance-venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "conformance_setup: creating $venv with $py" >&2
  "$py" -m venv "$venv"
fi
echo "conformance_setup: installing OSMO's src/requirements.txt into $venv (this can take minutes)" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$osmo/src/requirements.txt" >&2

# the proof that it works: OSMO's own parser builds in that interpreter
(cd "$osmo" && "$venv/bin/python" -c 'from src.cli import main_parser; main_parser.create_cli_parser()') \
  || die "OSMO's CLI parser does not import in $venv; read the pip output above"

echo "# conformance environment ready; export these, then: ./run test tests/contract/conformance -rs"
echo "export VDA_OSMO_SOURCE='$osmo'"
echo "export VDA_OSMO_PYTHON='$venv/bin/python'"
[ -z "$al" ] || echo "export VDA_PAIDF_AL_SOURCE='$al'"
[ -z "$aug" ] || echo "export VDA_PAIDF_AUG_SOURCE='$aug'"
