"""The local backend's object store: storage URLs mapped onto the local disk.

A local absolute path and a ``file:///abs`` URL are themselves, and must lie under the storage root
or under a folder the operator lists in ``VDA_LOCAL_STORAGE_ROOTS`` (``os.pathsep``-separated
absolute paths): an argument alone cannot make the backend read or write elsewhere. A cluster URL
(``s3://bucket/p``, ``gs://``, ``azure://``, ``swift://``, ``tos://``) lives under the storage root
as ``<root>/<scheme>/<bucket>/p``, so the submit values written for OSMO work unchanged on this
machine. Anything else is an :class:`~skill.errors.InputError`.

The operations follow ``osmo data`` (src/cli/data.py): listing gives full URLs of the files under
a prefix; a download puts the *contents* of the prefix into the destination with keys kept relative
to it; an upload puts files flat under the URL and a directory's *contents* under it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

from skill.backends._local_io import target_lock, temp_name, write_error
from skill.errors import InputError, NotFound

__all__ = ["CLUSTER_SCHEMES", "LOCAL_STORAGE_ROOTS_ENV", "LocalStorage", "url_to_path"]

LOCAL_STORAGE_ROOTS_ENV = "VDA_LOCAL_STORAGE_ROOTS"

# scheme -> how many path components name the container in OSMO's storage URLs, e.g. azure://account/container
CLUSTER_SCHEMES: dict[str, int] = {"s3": 1, "gs": 1, "azure": 2, "tos": 2, "swift": 3}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_EXAMPLES = "an absolute path, file:///abs/path, or s3://bucket/path (also gs, azure, swift, tos)"


def _invalid(url: str, why: str) -> InputError:
    return InputError(
        f"Storage URL {url} {why}.",
        remedy=f"Use {_EXAMPLES}.",
        code="invalid-storage-url",
    )


def _clean_parts(url: str, path: str) -> list[str]:
    if "\x00" in path:
        raise _invalid(url.replace("\x00", "\\0"), "contains a NUL character")
    # split by hand: PurePosixPath keeps a leading "//" as a root of its own
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise _invalid(url, "climbs out of its prefix with '..'")
    return parts


def _allowed_roots(storage_root: Path) -> list[str]:
    extra = [r for r in os.environ.get(LOCAL_STORAGE_ROOTS_ENV, "").split(os.pathsep) if r.startswith("/")]
    return [os.path.realpath(r) for r in (str(storage_root), *extra)]


def _confined(url: str, path: Path, storage_root: Path) -> Path:
    """``path`` when it lies under an allowed root (symlinks resolved), else a coded refusal."""
    real = os.path.realpath(path)
    if any(real == root or real.startswith(root.rstrip("/") + "/") for root in _allowed_roots(storage_root)):
        return path
    raise InputError(
        f"Storage URL {url} lies outside the local storage root ({storage_root}).",
        remedy=f"Use s3://bucket/path style URLs (they live under the root), a path under {storage_root}, or have the "
               f"operator add the folder to {LOCAL_STORAGE_ROOTS_ENV}.",
        code="storage-outside-roots",
    )


def url_to_path(url: str, storage_root: Path) -> Path:
    """The local path a storage URL stands for (see the module docstring)."""
    if not isinstance(url, str) or not url.strip():
        raise _invalid(str(url), "is empty")
    text = url.strip()
    match = _SCHEME.match(text)
    if match is None:
        if not text.startswith("/"):
            raise _invalid(text, "is neither absolute nor a known storage scheme")
        return _confined(text, Path("/", *_clean_parts(text, text)), storage_root)
    scheme = match.group(1).lower()
    if scheme == "file":
        rest = text[match.end():]
        host, slash, path = rest.partition("/")
        if host not in ("", "localhost"):
            raise _invalid(text, "names a remote host; only file:///abs/path is local")
        path = unquote(slash + path.split("?", 1)[0].split("#", 1)[0])
        if not path.startswith("/"):
            raise _invalid(text, "has no absolute path")
        return _confined(text, Path("/", *_clean_parts(text, path)), storage_root)
    if scheme not in CLUSTER_SCHEMES:
        raise _invalid(text, f"uses the scheme {scheme}:// which no storage backend offers")
    parts = _clean_parts(text, text[match.end():])
    needed = CLUSTER_SCHEMES[scheme]
    if len(parts) < needed:
        raise _invalid(text, f"needs at least {needed} path component(s) after {scheme}://")
    return Path(storage_root, scheme, *parts)


def _files_under(base: Path) -> list[Path]:
    """Regular files under ``base`` (a file lists itself), sorted by relative key."""
    if base.is_file():
        return [base]
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("*") if p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def _same_file(src: Path, dst: Path) -> bool:
    """Resume test: same size and same mtime (whole seconds are enough across filesystems)."""
    try:
        a, b = src.stat(), dst.stat()
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def _copy(src: Path, dst: Path, *, link: bool = False) -> None:
    """Copy ``src`` to ``dst`` through a temporary name of its own, keeping the mtime. With ``link``
    a hard link is tried first (cheap for big videos and model caches), falling back to a copy.
    A failed write (a full disk) leaves no temporary file and raises a coded error."""
    tmp = temp_name(dst, "part")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if link:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copy2(src, tmp)
        else:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, FileNotFoundError) and not src.exists():
            raise NotFound(f"Cannot copy {src.name}: it vanished while being copied.", remedy="Retry once the source is complete.") from exc
        raise write_error(exc, dst.parent) from exc


class LocalStorage:
    """``osmo data`` list/download/upload over the local disk; cluster URLs live under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, url: str) -> Path:
        return url_to_path(url, self.root)

    def list(self, url: str) -> list[str]:
        """Full URLs of every file under the prefix, sorted; a file URL lists itself; missing -> []."""
        base = self.path(url)
        if base.is_file():
            return [url]
        prefix = url.rstrip("/")
        return [f"{prefix}/{p.relative_to(base).as_posix()}" for p in _files_under(base)]

    def download(self, url: str, dest: Path, *, regex: str | None = None, link: bool = False) -> list[Path]:
        """Copy the prefix's contents into ``dest`` (keys relative to the prefix); skip files whose
        size and mtime already match, so an interrupted download resumes. Missing prefix -> ``[]``."""
        base = self.path(url)
        pattern = _compile(regex)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for src in _files_under(base):
            rel = src.name if src == base else src.relative_to(base).as_posix()
            if pattern is not None and not pattern.match(rel):
                continue
            target = dest / rel
            if not _same_file(src, target):
                _copy(src, target, link=link)
            written.append(target)
        return written

    def upload(self, url: str, paths: list[Path], *, regex: str | None = None) -> list[str]:
        """Put files flat under ``url``; a directory contributes its contents (relative keys kept).
        Returns the URLs written."""
        base = self.path(url)
        if base.is_file():
            raise InputError(
                f"Storage URL {url} is a file, so nothing can be uploaded under it.",
                remedy="Upload to the folder prefix instead.",
                code="invalid-storage-url",
            )
        pattern = _compile(regex)
        prefix = url.rstrip("/")
        written: list[str] = []
        for item in paths:
            item = Path(item)
            if item.is_dir():
                pairs = [(p, p.relative_to(item).as_posix()) for p in _files_under(item)]
            elif item.is_file():
                pairs = [(item, item.name)]
            else:
                raise NotFound(f"Cannot upload {item}: it does not exist.", remedy="Pass existing files or folders.")
            for src, rel in pairs:
                if pattern is not None and not pattern.match(rel):
                    continue
                target = base / rel
                with target_lock(self.root / ".locks", target):  # concurrent uploads of one target take turns
                    if not _same_file(src, target):
                        _copy(src, target)
                written.append(f"{prefix}/{rel}")
        return written


def _compile(regex: str | None) -> re.Pattern[str] | None:
    if regex is None:
        return None
    try:
        return re.compile(regex)
    except re.error as exc:
        raise InputError(f"The regex filter is not a valid regular expression ({exc.msg}).", remedy="Fix the regex.") from exc
