# shellcheck shell=bash
# Helpers shared by the worker scripts (cosmos_worker.sh, pl_original_worker.sh, pl_augmented_worker.sh).
# Sourced, never run. Every function is prefixed vda_; nothing here prints a key or token.
#
#   Endpoints:   vda_auth_header, vda_normalize_url, vda_url_candidates, vda_default_base_url,
#                vda_wait_for_models (sets VDA_RESOLVED_URL, VDA_MODELS_JSON), vda_model_id
#   Environment: vda_require_env, vda_load_env_file (.env, else runtime.env; the task's own
#                environment wins over the file), vda_fanout_keys, vda_is_local, vda_python
#   Work:        vda_list_videos, vda_find_video, vda_config_items, vda_assigned
#   Barrier:     vda_group_barrier, vda_group_barrier_failed
#
# Readiness knobs: ENDPOINT_WAIT_TIMEOUT_SECONDS (180), ENDPOINT_WAIT_INTERVAL_SECONDS (10),
# ENDPOINT_CURL_CONNECT_TIMEOUT_SECONDS (5), ENDPOINT_CURL_MAX_TIME_SECONDS (15).

vda_log() { printf '[%s] %s\n' "${VDA_WORKER_NAME:-worker}" "$*" >&2; }
vda_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
# vda_count ITEM... -> how many items. Staged files are rendered by OSMO's Jinja a second time, so
# these scripts never spell bash's length expansion (its opening brace + hash starts a Jinja comment).
vda_count() { printf '%s\n' "$#"; }

vda_require_env() {
  local name missing=()
  for name in "$@"; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ "$(vda_count "${missing[@]}")" -eq 0 ] || vda_die "missing environment: ${missing[*]} (set by the workflow task)"
}

vda_is_local() { [ "${VDA_BACKEND:-}" = "local" ]; }

# vda_local_engine SLOT VALUE -> the engine a task on this machine runs for SLOT (label|augment):
# classic for auto or empty (the workflow default), else the chosen one; an unknown name stops the task.
vda_local_engine() {
  case "$1:${2:-auto}" in
    label:auto|augment:auto) echo classic ;;
    label:classic|label:nim|augment:classic|augment:cosmos) echo "$2" ;;
    *) vda_die "unknown $1 engine '${2:-}' (label: classic|nim, augment: classic|cosmos)" ;;
  esac
}

# vda_container_engine SLOT VALUE: on OSMO the containers are the engines; classic is not in them.
vda_container_engine() {
  [ "${2:-auto}" != "classic" ] || vda_die "the classic $1 engine runs only on the local backend (vda run --backend local)"
}

# The interpreter for helper snippets: the local executor's, else the container's.
vda_python() {
  if [ -n "${VDA_PYTHON:-}" ]; then printf '%s\n' "$VDA_PYTHON"
  elif command -v python3 >/dev/null 2>&1; then command -v python3
  else printf '%s\n' python
  fi
}

# --- endpoints ---------------------------------------------------------------------------------

# vda_auth_header TOKEN -> the header line, or nothing for an empty token.
vda_auth_header() {
  local token="${1:-}"
  case "$token" in
    "") return 0 ;;
    Authorization:*|authorization:*) printf '%s\n' "$token" ;;
    Bearer\ *|bearer\ *) printf 'Authorization: %s\n' "$token" ;;
    *) printf 'Authorization: Bearer %s\n' "$token" ;;
  esac
}

# vda_normalize_url RAW -> scheme://host[:port][/path] without query, fragment, trailing slash or API suffix.
vda_normalize_url() {
  local url="${1:-}" before suffix
  url="${url#"${url%%[![:space:]]*}"}"
  url="${url%"${url##*[![:space:]]}"}"
  [ -n "$url" ] || return 1
  case "$url" in *://*) ;; *) url="http://$url" ;; esac
  url="${url%%#*}"
  url="${url%%\?*}"
  while [ "${url%/}" != "$url" ]; do url="${url%/}"; done
  before=""
  while [ "$before" != "$url" ]; do
    before="$url"
    for suffix in /v1/chat/completions /chat/completions /v1/completions /completions /v1/responses /responses \
                  /v1/embeddings /embeddings /v1/models /models; do
      if [ "${url%"$suffix"}" != "$url" ]; then url="${url%"$suffix"}"; break; fi
    done
    while [ "${url%/}" != "$url" ]; do url="${url%/}"; done
  done
  case "$url" in *://?*) ;; *) return 1 ;; esac
  printf '%s\n' "$url"
}

# vda_toggle_v1 URL -> URL with /v1 removed when it ends in /v1, else with /v1 added.
vda_toggle_v1() {
  case "$1" in */v1) printf '%s\n' "${1%/v1}" ;; *) printf '%s/v1\n' "$1" ;; esac
}

# vda_url_candidates RAW -> base URLs to try, one per line: the base and scheme://host, each
# followed by its /v1 toggle, duplicates dropped, order kept.
vda_url_candidates() {
  local base origin rest seed c
  base="$(vda_normalize_url "${1:-}")" || return 1
  rest="${base#*://}"
  origin="${base%%://*}://${rest%%/*}"
  for seed in "$base" "$origin"; do
    printf '%s\n' "$seed"
    vda_toggle_v1 "$seed"
  done | awk '!seen[$0]++'
}

# vda_default_base_url RAW -> the first candidate ending in /v1, else the first candidate.
vda_default_base_url() {
  local c first=""
  while IFS= read -r c; do
    [ -n "$first" ] || first="$c"
    case "$c" in */v1) printf '%s\n' "$c"; return 0 ;; esac
  done < <(vda_url_candidates "${1:-}")
  [ -n "$first" ] && printf '%s\n' "$first"
}

# vda_model_id JSON -> the first "id" value in an OpenAI /models listing.
vda_model_id() {
  printf '%s' "${1:-}" | tr -d '\n' | grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' | head -n 1 | sed -E 's/.*:[[:space:]]*"(.*)"$/\1/'
}

# vda_wait_for_models NAME RAW_URL [AUTH_HEADER]
# Polls <candidate>/models until one answers with a "data" listing. Sets VDA_RESOLVED_URL and
# VDA_MODELS_JSON. Returns 1 (after an ERROR line) when nothing answered in time.
vda_wait_for_models() {
  local name="$1" raw="${2:-}" header="${3:-}"
  local timeout="${ENDPOINT_WAIT_TIMEOUT_SECONDS:-180}" interval="${ENDPOINT_WAIT_INTERVAL_SECONDS:-10}"
  local connect="${ENDPOINT_CURL_CONNECT_TIMEOUT_SECONDS:-5}" max_time="${ENDPOINT_CURL_MAX_TIME_SECONDS:-15}"
  local candidates=() c attempts i body hdr_file=""
  VDA_RESOLVED_URL=""; VDA_MODELS_JSON=""
  if [ -z "$raw" ] || ! mapfile -t candidates < <(vda_url_candidates "$raw") || [ "$(vda_count "${candidates[@]}")" -eq 0 ]; then
    printf 'ERROR: %s endpoint URL is empty or not a URL.\n' "$name" >&2
    return 1
  fi
  [ "$interval" -ge 1 ] 2>/dev/null || interval=1
  attempts=$(( timeout / interval )); [ "$attempts" -ge 1 ] || attempts=1
  if [ -n "$header" ]; then
    hdr_file="$(mktemp)"; chmod 600 "$hdr_file"
    printf '%s\n' "$header" > "$hdr_file"   # the key goes to curl through a file, never through argv
  fi
  for (( i = 1; i <= attempts; i++ )); do
    for c in "${candidates[@]}"; do
      if [ -n "$hdr_file" ]; then
        body="$(curl -fsS --connect-timeout "$connect" --max-time "$max_time" -H "@$hdr_file" "$c/models" 2>/dev/null)" || body=""
      else
        body="$(curl -fsS --connect-timeout "$connect" --max-time "$max_time" "$c/models" 2>/dev/null)" || body=""
      fi
      case "$body" in
        *'"data"'*)
          VDA_RESOLVED_URL="$c"; VDA_MODELS_JSON="$body"
          [ -z "$hdr_file" ] || rm -f "$hdr_file"
          vda_log "$name endpoint ready at $c"
          return 0 ;;
      esac
    done
    vda_log "Waiting for $name server ($i/$attempts): tried ${candidates[*]}"
    [ "$i" -ge "$attempts" ] || sleep "$interval"
  done
  [ -z "$hdr_file" ] || rm -f "$hdr_file"
  printf 'ERROR: %s server not ready after %ss (tried %s).\n' "$name" "$timeout" "${candidates[*]}" >&2
  printf 'Hint: pass an OpenAI-compatible base URL (http://host:8000/v1) or a NIM/NVCF invoke URL; check the NIM health first.\n' >&2
  return 1
}

# --- environment -------------------------------------------------------------------------------

# vda_load_env_file SETUP_DIR: read SETUP_DIR/.env (else runtime.env) as KEY=VALUE lines without
# executing it; a variable the task already has keeps its value.
vda_load_env_file() {
  local dir="${1:-}" file line key value
  [ -n "$dir" ] && [ -d "$dir" ] || vda_die "SETUP_DIR '${dir}' is not a directory (the setup task's output)"
  if [ -f "$dir/.env" ]; then file="$dir/.env"
  elif [ -f "$dir/runtime.env" ]; then file="$dir/runtime.env"
  else
    ls -la "$dir" >&2 || true
    vda_die "neither $dir/.env nor $dir/runtime.env exists; did the setup task finish?"
  fi
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    case "$line" in ''|'#'*) continue ;; esac
    line="${line#export }"
    key="${line%%=*}"
    [ "$key" != "$line" ] || continue
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    value="${line#*=}"
    # setup_task.sh writes plain values, or single-quoted ones that hold no quote of their own
    if [[ "$value" =~ ^\'(.*)\'$ || "$value" =~ ^\"(.*)\"$ ]]; then value="${BASH_REMATCH[1]}"; fi
    if [ -z "${!key+set}" ]; then export "$key=$value"; fi
  done < "$file"
  vda_log "loaded $(basename "$file") from $dir"
}

# vda_fanout_keys: each endpoint key falls back to the others, then NVIDIA_API_KEY, then NGC_CLI_API_KEY.
vda_fanout_keys() {
  local shared="${OPENAI_API_KEY:-${VLM_API_KEY:-${LLM_API_KEY:-${NVIDIA_API_KEY:-${NGC_CLI_API_KEY:-}}}}}"
  export OPENAI_API_KEY="${OPENAI_API_KEY:-$shared}"
  export VLM_API_KEY="${VLM_API_KEY:-$shared}"
  export LLM_API_KEY="${LLM_API_KEY:-$shared}"
  if [ -n "${HUGGING_FACE_HUB_TOKEN:-}" ]; then export HF_TOKEN="$HUGGING_FACE_HUB_TOKEN"; fi
}

# --- work assignment ---------------------------------------------------------------------------

# vda_list_videos DIR -> "stem<TAB>path" per video (mp4/avi/mkv, any case, recursive), sorted by
# stem then path (byte order). Fails when the folder is missing, empty, or two videos share a stem.
vda_list_videos() {
  local dir="${1:-}" listing dup
  [ -d "$dir" ] || { printf 'ERROR: video folder %s does not exist.\n' "$dir" >&2; return 1; }
  listing="$(find -L "$dir" -type f \( -iname '*.mp4' -o -iname '*.avi' -o -iname '*.mkv' \) ! -name '.*' -print0 \
    | while IFS= read -r -d '' p; do b="${p##*/}"; printf '%s\t%s\n' "${b%.*}" "$p"; done | LC_ALL=C sort)"
  if [ -z "$listing" ]; then
    printf 'ERROR: no mp4/avi/mkv video under %s.\n' "$dir" >&2
    printf 'Hint: upload the videos to <storage_url>/datasets/<dataset>/ (flat) and rerun.\n' >&2
    return 1
  fi
  dup="$(printf '%s\n' "$listing" | cut -f1 | uniq -d | head -n 1)"
  [ -z "$dup" ] || { printf 'ERROR: two videos are named %s under %s; rename one.\n' "$dup" "$dir" >&2; return 1; }
  printf '%s\n' "$listing"
}

# vda_find_video DIR STEM -> the path of the video whose file name without extension is STEM.
vda_find_video() {
  local dir="$1" stem="$2" listing
  listing="$(vda_list_videos "$dir")" || return 1
  awk -F '\t' -v s="$stem" '$1 == s { print $2; found = 1; exit } END { exit found ? 0 : 1 }' <<< "$listing" \
    || { printf 'ERROR: no video named %s.{mp4,avi,mkv} under %s.\n' "$stem" "$dir" >&2; return 1; }
}

# vda_config_items CONFIG_DIR -> "config<TAB>video_name<TAB>aug_idx" in manifest order
# (manifest.tsv from generate_configs; else the *_aug<i>.yaml files, sorted).
vda_config_items() {
  local dir="${1:-}" f base
  if [ -f "$dir/manifest.tsv" ]; then
    grep -v '^[[:space:]]*$' "$dir/manifest.tsv" || true
    return 0
  fi
  for f in "$dir"/*_aug*.yaml; do
    [ -f "$f" ] || continue
    base="$(basename "$f" .yaml)"
    if [[ "$base" =~ ^(.+)_aug([0-9]+)$ ]]; then
      printf '%s.yaml\t%s\t%s\n' "$base" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    fi
  done | LC_ALL=C sort -t $'\t' -k2,2 -k3,3n
}

# vda_assigned WORKER_ID NUM_WORKERS < lines -> the lines whose 0-based index % NUM_WORKERS == WORKER_ID.
vda_assigned() {
  local worker="$1" workers="$2"
  [[ "$worker" =~ ^[0-9]+$ && "$workers" =~ ^[0-9]+$ ]] && [ "$workers" -ge 1 ] && [ "$worker" -lt "$workers" ] \
    || { printf 'ERROR: WORKER_ID=%s must be in 0..NUM_WORKERS-1 (NUM_WORKERS=%s).\n' "$worker" "$workers" >&2; return 1; }
  awk -v w="$worker" -v n="$workers" 'NF && (NR - 1) % n == w'
}

# --- group barrier -----------------------------------------------------------------------------

# vda_barrier_init ENV_PREFIX DEFAULT_PORT: this worker's place in its group's completion barrier,
# from <ENV_PREFIX>RANK, <ENV_PREFIX>NUM_NODES and <ENV_PREFIX>HOST (defaults: WORKER_ID, NUM_WORKERS,
# 127.0.0.1) and VDA_GROUP_BARRIER_PORT. Set VDA_BARRIER_PYTHON (the interpreter that runs
# osmo_barrier.py) before the first barrier call.
vda_barrier_init() {
  local rank_var="${1}RANK" nodes_var="${1}NUM_NODES" host_var="${1}HOST"
  VDA_BARRIER_RANK="${!rank_var:-${WORKER_ID:-0}}"
  VDA_BARRIER_NODES="${!nodes_var:-${NUM_WORKERS:-1}}"
  VDA_BARRIER_HOST="${!host_var:-127.0.0.1}"
  VDA_BARRIER_PORT="${VDA_GROUP_BARRIER_PORT:-$2}"
}

# vda_group_barrier [extra barrier flags...]
# Rank 0 serves and returns when every peer arrived, so the lead (whose exit ends the OSMO group)
# leaves last; other ranks connect to the host. A single node returns at once.
vda_group_barrier() {
  local nodes="$VDA_BARRIER_NODES" rank="$VDA_BARRIER_RANK"
  if [ "$nodes" -le 1 ] 2>/dev/null; then
    vda_log "completion barrier: single node, nothing to wait for"
    return 0
  fi
  local args=(--rank "$rank" --num_nodes "$nodes" --port "$VDA_BARRIER_PORT" --retry-interval "${VDA_BARRIER_RETRY_INTERVAL:-10}")
  [ "$rank" = "0" ] || args+=(--connect "$VDA_BARRIER_HOST")
  vda_log "completion barrier: rank $rank of $nodes on port $VDA_BARRIER_PORT"
  "${VDA_BARRIER_PYTHON:?set VDA_BARRIER_PYTHON before the barrier}" "$(dirname "${BASH_SOURCE[0]}")/osmo_barrier.py" "${args[@]}" "$@"
}

# vda_group_barrier_failed: a non-lead tells the lead it failed, so the group fails now instead of
# the lead waiting forever; the lead itself just exits (that ends the group).
vda_group_barrier_failed() {
  if [ "$VDA_BARRIER_NODES" -gt 1 ] 2>/dev/null && [ "$VDA_BARRIER_RANK" != "0" ]; then
    vda_group_barrier --report-failure --timeout "${VDA_BARRIER_FAILURE_TIMEOUT:-600}" || true
  fi
}

# vda_lookup_video LISTING STEM -> the path for STEM in a vda_list_videos listing.
vda_lookup_video() {
  awk -F '\t' -v s="$2" '$1 == s { print $2; found = 1; exit } END { exit found ? 0 : 1 }' <<< "$1" \
    || { printf 'ERROR: no video named %s.{mp4,avi,mkv} in the dataset.\n' "$2" >&2; return 1; }
}

# vda_abs PATH -> the absolute path of an existing directory.
vda_abs() {
  [ -d "${1:-}" ] || vda_die "folder '${1:-}' does not exist"
  (cd "$1" && pwd)
}

# --- the auto-labeling container (OSMO path of both PL workers) --------------------------------

# vda_prepare_al_container: endpoints, keys, working dir and cookbook overrides for
# `uv run python modules/cli.py` in the paidf-auto-labeling image. Sets VLM_URL, VLM_MODEL,
# LLM_URL, LLM_MODEL, MODEL_CACHE_PATH and the array VDA_AL_OVERRIDES.
vda_prepare_al_container() {
  local configs="$SETUP_DIR/configs" bank="$SETUP_DIR/configs/auto_labeling/question_bank.json"
  local events="$SETUP_DIR/configs/auto_labeling/prompts/event_analysis.md" py cache item
  export UV_PROJECT_ENVIRONMENT=/opt/venv
  # in-cluster NIMs must be reached directly, not through a proxy
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
  vda_fanout_keys
  VLM_URL="$(vda_default_base_url "${VLM_URL:-}")" || vda_die "VLM_URL is empty or not a URL"
  LLM_URL="$(vda_default_base_url "${LLM_URL:-}")" || vda_die "LLM_URL is empty or not a URL"
  if [ "${WAIT_FOR_VLM:-0}" = "1" ]; then
    vda_wait_for_models VLM "$VLM_URL" "$(vda_auth_header "${VLM_API_KEY:-}")"
    VLM_URL="$VDA_RESOLVED_URL"; VLM_MODEL="$(vda_model_id "$VDA_MODELS_JSON")"
    [ -n "$VLM_MODEL" ] || vda_die "the VLM at $VLM_URL lists no model id"
  fi
  if [ "${WAIT_FOR_LLM:-0}" = "1" ]; then
    vda_wait_for_models LLM "$LLM_URL" "$(vda_auth_header "${LLM_API_KEY:-}")"
    LLM_URL="$VDA_RESOLVED_URL"; LLM_MODEL="$(vda_model_id "$VDA_MODELS_JSON")"
    [ -n "$LLM_MODEL" ] || vda_die "the LLM at $LLM_URL lists no model id"
  else
    LLM_MODEL="${LLM_MODEL_STATIC:-}"
  fi
  # a model the user chose (vlm_model / llm_model values) wins over the first one listed
  [ -z "${VDA_VLM_MODEL:-}" ] || VLM_MODEL="$VDA_VLM_MODEL"
  [ -z "${VDA_LLM_MODEL:-}" ] || LLM_MODEL="$VDA_LLM_MODEL"
  cd "${VDA_AL_APP_DIR:-/workspace}"
  if [ -f docker/entrypoint.sh ]; then bash docker/entrypoint.sh; fi
  # rfdetr writes a .lock beside its weights: give it a writable folder of per-file links
  if [ -n "${MODEL_CACHE_PATH:-}" ] && [ -d "$MODEL_CACHE_PATH/rfdetr" ]; then
    cache="$(mktemp -d)"
    for item in "$MODEL_CACHE_PATH"/*; do
      [ -e "$item" ] || continue
      [ "$(basename "$item")" = "rfdetr" ] || ln -sfn "$item" "$cache/$(basename "$item")"
    done
    mkdir -p "$cache/rfdetr"
    for item in "$MODEL_CACHE_PATH"/rfdetr/*; do
      [ -e "$item" ] || continue
      ln -sfn "$item" "$cache/rfdetr/$(basename "$item")"
    done
    vda_log "model cache mirrored to $cache (rfdetr writable)"
    MODEL_CACHE_PATH="$cache"
  fi
  VDA_AL_OVERRIDES=(
    "pipeline.model_cache_path=${MODEL_CACHE_PATH:-ckpts}" "pipeline.gpu_ids=0"
    "endpoints.vlm.url=$VLM_URL" "endpoints.llm.url=$LLM_URL")
  # An empty "key=" reaches the container as null: pass a model only when it is known.
  [ -z "${VLM_MODEL:-}" ] || VDA_AL_OVERRIDES+=("endpoints.vlm.model=$VLM_MODEL")
  [ -z "${LLM_MODEL:-}" ] || VDA_AL_OVERRIDES+=("endpoints.llm.model=$LLM_MODEL")
  if [ -f "$bank" ]; then
    # keep only name + questions: stray keys with braces break the MCQ parser
    VDA_QUESTION_BANK="$(mktemp --suffix=.json)"
    py="python3"; [ ! -x /opt/venv/bin/python ] || py=/opt/venv/bin/python
    "$py" - "$bank" "$VDA_QUESTION_BANK" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    bank = json.load(f)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"name": bank.get("name"), "questions": bank.get("questions", [])}, f, indent=2)
PY
    VDA_AL_OVERRIDES+=("mcq_generation.window_metadata_extraction.question_bank_file=$VDA_QUESTION_BANK")
  fi
  if [ -f "$events" ]; then
    VDA_AL_OVERRIDES+=("vlm_json.scene_prompt_file=$events" "vlm_json.events_prompt_file=$events")
  else
    vda_log "WARNING: $events missing; the container's default event prompt is used"
  fi
  [ -d "$configs" ] || vda_die "$configs is missing"
}
