"""Storage URLs: parse and check them, join keys onto them, and derive ``storage_url`` from a dataset URL.

Accepted forms (OSMO 6.3.1's storage schemes, plus local storage for the local backend):

    s3://<bucket>[/path]                          profile (root) s3://<bucket>
    gs://<bucket>[/path]                          profile gs://<bucket>
    azure://<account>/<container>[/path]          profile azure://<account>
    swift://<endpoint>/<account>/<container>[/path]  profile swift://<endpoint>/<account>
    tos://<endpoint>/<bucket>[/path]              profile tos://<endpoint>/<bucket>
    /abs/path, ~/path, ./rel, ../rel, file:///abs/path   local disk (the local backend)

A string with no scheme that does not start with ``/``, ``~`` or ``.`` is rejected rather than read as
a bucket: the skill never guesses ``s3://`` (rule ``storage-url-derived``). Error messages name the
expected form and never echo the rejected value (a URL can carry userinfo).
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, computed_field

from skill.errors import InputError, UserInputRequired
from skill.models import RUN_ID_PATTERN, DatasetName

__all__ = [
    "CACHE_SUBPATHS",
    "DatasetLocation",
    "Scheme",
    "StorageUrl",
    "cache_urls",
    "derive_from_dataset_url",
    "join",
    "output_url",
    "parse_storage_url",
    "dataset_root",
    "same_root",
    "scheme_of",
    "split_dataset_url",
    "storage_root",
]

Scheme = Literal["s3", "gs", "azure", "swift", "tos", "file"]

CACHE_SUBPATHS: dict[str, str] = {
    "cosmos_model_cache_url": "data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "data/models/auto_labeling",
}

# scheme -> (components that address the container, how many of them form the credential profile,
#            what those components are, the usage shown in errors)
_REMOTE: dict[str, tuple[int, int, str, str]] = {
    "s3": (1, 1, "a bucket", "s3://<bucket>[/path], e.g. s3://my-bucket/prefix"),
    "gs": (1, 1, "a bucket", "gs://<bucket>[/path], e.g. gs://my-bucket/prefix"),
    "azure": (2, 1, "an account and a container", "azure://<account>/<container>[/path], e.g. azure://myaccount/osmo-workflows"),
    "swift": (3, 2, "an endpoint, an account and a container",
              "swift://<endpoint>/<account>/<container>[/path], e.g. swift://swift.example.com/AUTH_team/vda"),
    "tos": (2, 2, "an endpoint and a bucket", "tos://<endpoint>/<bucket>[/path], e.g. tos://tos-cn-beijing.volces.com/my-bucket"),
}
_LOCAL_USAGE = "an absolute local path such as /data/vda or file:///data/vda"
_ALL_FORMS = "; ".join(entry[3] for entry in _REMOTE.values()) + f"; or {_LOCAL_USAGE}"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")  # bucket, account, container
_ENDPOINT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f\\]")
_DATASET_NAME: TypeAdapter[str] = TypeAdapter(DatasetName)  # the rule SubmitValues enforces
_RUN_ID = re.compile(RUN_ID_PATTERN)


class StorageUrl(BaseModel):
    """A checked storage location. ``url`` is the normalized form, without a trailing slash.
    An output model: build it with :func:`parse_storage_url` (extra keys such as ``is_local`` are ignored)."""

    model_config = ConfigDict(frozen=True)
    scheme: Scheme
    root: str = Field(description="Credential profile the backend looks up, e.g. s3://bucket or azure://account; file:// for local.")
    container: str | None = Field(description="Bucket (s3, gs, tos) or container (azure, swift); None for local paths.")
    path: str = Field(description="Key path inside the container without leading or trailing slash; the absolute path for local storage.")
    url: str = Field(description="Normalized URL, e.g. azure://acct/container/datasets/vda-demo.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def __str__(self) -> str:
        return self.url


class DatasetLocation(BaseModel):
    """What a dataset URL ``<storage_url>/datasets/<dataset>`` splits into."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    storage_url: str = Field(description="Backend prefix in front of /datasets/<dataset>, e.g. azure://acct/osmo-workflows.")
    dataset: DatasetName
    dataset_url: str = Field(description="Normalized <storage_url>/datasets/<dataset>.")


# --- parsing ------------------------------------------------------------------------------------


def _invalid(reason: str, usage: str = _ALL_FORMS) -> InputError:
    return InputError(f"The storage URL is not valid: {reason}.", remedy=f"Use {usage}.", code="invalid-storage-url")


def _split_key(text: str, usage: str) -> list[str]:
    """Path components; trailing slashes are dropped, empty, '.' and '..' components are refused."""
    parts = text.rstrip("/").split("/") if text.strip("/") else []
    for part in parts:
        if part in ("", ".", ".."):
            raise _invalid("it has an empty, '.' or '..' path component", usage)
    return parts


def parse_storage_url(url: str | StorageUrl) -> StorageUrl:
    """Check ``url`` against the accepted forms and return it normalized.

    Raises :class:`InputError` (code ``invalid-storage-url``) naming the expected form.
    """
    if isinstance(url, StorageUrl):
        return url
    if not isinstance(url, str) or not url.strip():
        raise _invalid("it is empty")
    text = url.strip()
    if _BAD_CHARS.search(text):
        raise _invalid("it contains whitespace, a backslash or a control character")
    match = _SCHEME.match(text)
    if match is None:
        return _parse_local_path(text)
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        return _parse_file_url(rest)
    if scheme in ("http", "https"):
        raise _invalid("http(s) endpoints are not storage URLs (OSMO sets a custom S3 endpoint with override_url)")
    if scheme not in _REMOTE:
        raise _invalid(f"the scheme {scheme}:// is not one OSMO supports")
    return _parse_remote(scheme, rest)


def _parse_remote(scheme: str, rest: str) -> StorageUrl:
    needed, profile_parts, what, usage = _REMOTE[scheme]
    if "@" in rest.split("/", 1)[0] or "?" in rest or "#" in rest:
        raise _invalid("credentials, queries and fragments do not belong in a storage URL", usage)
    parts = _split_key(rest, usage)
    if len(parts) < needed:
        raise _invalid(f"{scheme}:// URLs need {what}", usage)
    head = parts[:needed]
    endpoint_first = scheme in ("swift", "tos")
    for i, part in enumerate(head):
        rule = _ENDPOINT if endpoint_first and i == 0 else _NAME
        if not rule.match(part):
            raise _invalid(f"component {i + 1} of the {scheme}:// address is not a valid name", usage)
    return StorageUrl(
        scheme=scheme,  # type: ignore[arg-type]
        root=f"{scheme}://" + "/".join(parts[:profile_parts]),
        container=head[-1],
        path="/".join(parts[needed:]),
        url=f"{scheme}://" + "/".join(parts),
    )


def _parse_file_url(rest: str) -> StorageUrl:
    host, sep, path = rest.partition("/")
    if not sep or host not in ("", "localhost"):
        raise _invalid("a file:// URL must hold an absolute local path (file:///abs/path)", _LOCAL_USAGE)
    local = _local(f"/{path}")
    return StorageUrl(scheme="file", root="file://", container=None, path=local, url="file://" + local)


def _parse_local_path(text: str) -> StorageUrl:
    if "://" in text or not text.startswith(("/", "~", ".")):
        raise _invalid("it has no scheme and is not a local path (a bucket is never assumed to be s3://)")
    if text.startswith("~"):
        if text != "~" and not text.startswith("~/"):
            raise _invalid("only ~ or ~/path name a home folder here", _LOCAL_USAGE)
        text = os.path.expanduser(text)
        if text.startswith("~"):
            raise _invalid("the home folder in it cannot be resolved", _LOCAL_USAGE)
    local = _local(os.path.abspath(text) if not text.startswith("/") else text)
    return StorageUrl(scheme="file", root="file://", container=None, path=local, url=local)


def _local(path: str) -> str:
    """An absolute local path, normalized, without trailing slash (``/`` stays ``/``)."""
    normal = os.path.normpath(path)
    if normal.startswith("//"):  # POSIX keeps a leading double slash; storage does not need it
        normal = "/" + normal.lstrip("/")
    return normal


# --- building URLs -------------------------------------------------------------------------------


def join(url: str | StorageUrl, *parts: str) -> str:
    """``url`` with ``parts`` appended as key components; each part may hold ``/`` but no ``..``."""
    base = parse_storage_url(url)
    extra: list[str] = []
    for part in parts:
        pieces = part.strip("/").split("/") if isinstance(part, str) else [""]
        if not isinstance(part, str) or _BAD_CHARS.search(part) or "://" in part or any(p in ("", ".", "..") for p in pieces):
            raise InputError(
                "A part joined onto a storage URL must be a relative key without empty, '.' or '..' components.",
                remedy="Pass relative key components such as 'datasets' or 'vda-demo/clip.mp4'.",
                code="invalid-storage-url",
            )
        extra.extend(pieces)
    if not extra:
        return base.url
    sep = "" if base.url.endswith("/") else "/"
    return base.url + sep + "/".join(extra)


def same_root(a: str | StorageUrl, b: str | StorageUrl) -> bool:
    """True when both URLs use the same scheme, credential profile and bucket/container."""
    left, right = parse_storage_url(a), parse_storage_url(b)
    return (left.scheme, left.root, left.container) == (right.scheme, right.root, right.container)


def output_url(storage_url: str | StorageUrl, dataset: str, run_id: str) -> str:
    """``<storage_url>/datasets/<dataset>-outputs/<run_id>``, where a run writes everything."""
    _check_dataset_name(dataset)
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InputError("The run id is not in the run-<8 hex> form.", remedy="Use a fresh id such as run-1a2b3c4d.", code="invalid-run-id")
    return join(storage_url, "datasets", f"{dataset}-outputs", run_id)


def cache_urls(storage_url: str | StorageUrl) -> dict[str, str]:
    """The two model-cache URLs under ``<storage_url>/data/models/`` that every submit passes explicitly."""
    return {key: join(storage_url, sub) for key, sub in CACHE_SUBPATHS.items()}


def _is_dataset_name(name: object) -> bool:
    try:
        _DATASET_NAME.validate_python(name, strict=True)
    except ValidationError:
        return False
    return True


def _check_dataset_name(dataset: str) -> None:
    if not _is_dataset_name(dataset):
        raise InputError(
            "The dataset name must start with a letter, hold only letters, digits, '-' and '_', and be at most 64 characters (OSMO's workflow name limit).",
            remedy="Use a name such as vda-demo.",
            code="invalid-dataset",
        )


# --- deriving storage_url -------------------------------------------------------------------------


def _prefix_question(name: str | None) -> str:
    where = f"datasets/{name}" if name else "your dataset"
    return (
        f"Which storage prefix holds {where}? Give the URL in front of /datasets/<name> "
        "(for example azure://<account>/<container> or s3://<bucket>/<prefix>), "
        "or the full dataset URL <prefix>/datasets/<name>."
    )


def derive_from_dataset_url(url: str | StorageUrl) -> DatasetLocation:
    """Split ``<prefix>/datasets/<name>`` into ``storage_url=<prefix>`` and ``dataset=<name>``.

    ``azure://acct/osmo-workflows/datasets/vda-demo`` gives ``azure://acct/osmo-workflows`` and
    ``vda-demo``; ``s3://metro-vda/datasets/x`` gives ``s3://metro-vda`` (never ``s3://metro-vda/datasets``).
    A malformed URL raises :class:`InputError`; a well-formed one without a ``/datasets/<name>`` tail
    (after the bucket or container) or with an invalid name raises :class:`UserInputRequired`, whose
    ``question`` is the one to put to the user.
    """
    parsed = parse_storage_url(url)
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) < 2 or parts[-2] != "datasets":
        hint = parts[-1] if parts and parts[-1] != "datasets" and _is_dataset_name(parts[-1]) else None
        raise UserInputRequired(
            "The URL does not end in /datasets/<name>, so the storage prefix cannot be derived from it.",
            question=_prefix_question(hint),
            missing="storage_url",
        )
    name = parts[-1]
    if not _is_dataset_name(name):
        raise UserInputRequired(
            "The folder after /datasets/ is not a valid dataset name (letters, digits, '-' and '_', starting with a letter).",
            question=_prefix_question(None),
            missing="storage_url",
        )
    dataset_url = parsed.url
    storage_url = dataset_url[: -len(f"/datasets/{name}")]
    if parsed.is_local and storage_url in ("", "file://"):
        storage_url += "/"
    return DatasetLocation(storage_url=parse_storage_url(storage_url).url, dataset=name, dataset_url=dataset_url)


# --- lenient reading (the policy judges what agents typed; it never raises) ----------------------------


def scheme_of(url: str | None) -> str | None:
    """The lower-case scheme of ``scheme://...``, or None for anything else (a path, a bare word)."""
    match = _SCHEME.match(url.strip()) if isinstance(url, str) else None
    return match.group(1).lower() if match else None


def storage_root(url: str | None) -> tuple[str, str] | None:
    """``(scheme, root)`` of a storage URL: the bucket (s3, gs), account/container (azure),
    endpoint/account/container (swift), endpoint/bucket (tos); local paths are ``("file", "/")``.
    Unlike :func:`parse_storage_url` it checks nothing and never raises: None when there is no root."""
    if not url:
        return None
    text = url.strip()
    match = _SCHEME.match(text)
    if not match:
        return ("file", "/") if text.startswith(("/", "~")) else None
    scheme = match.group(1).lower()
    if scheme == "file":
        return ("file", "/")
    parts = [part for part in match.group(2).split("/") if part]
    depth = _REMOTE[scheme][0] if scheme in _REMOTE else 1
    return scheme, "/".join(parts[:depth])


def split_dataset_url(url: str) -> tuple[str, str] | None:
    """``<prefix>/datasets/<name>[/...]`` -> ``(prefix, name)``; anything else -> None (never raises)."""
    text = url.strip().rstrip("/")
    head, sep, tail = text.rpartition("/datasets/")
    if not sep or not head or not tail:
        return None
    return head, tail.split("/", 1)[0]


def dataset_root(url: str) -> str:
    """``<prefix>/datasets/<name>`` of a URL inside a dataset (a clip's URL gives its dataset); other
    URLs come back as they are, stripped of spaces and trailing slashes."""
    split = split_dataset_url(url)
    return f"{split[0]}/datasets/{split[1]}" if split else url.strip().rstrip("/")
