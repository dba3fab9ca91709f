"""The local object store: URL mapping and ``osmo data`` list/download/upload semantics on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.backends.local import LocalBackend
from skill.backends.local_storage import LOCAL_STORAGE_ROOTS_ENV, LocalStorage, url_to_path
from skill.errors import InputError, NotFound


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        ("s3://bucket/p/q", "s3/bucket/p/q"),
        ("s3://bucket", "s3/bucket"),
        ("gs://bkt/data/", "gs/bkt/data"),
        ("azure://acct/container/datasets/x", "azure/acct/container/datasets/x"),
        ("tos://endpoint/bucket/k", "tos/endpoint/bucket/k"),
        ("swift://endpoint/account/bucket/k", "swift/endpoint/account/bucket/k"),
        ("S3://bucket/p", "s3/bucket/p"),
    ],
)
def test_cluster_urls_map_under_the_storage_root(tmp_path: Path, url: str, relative: str) -> None:
    assert url_to_path(url, tmp_path) == tmp_path / relative


def test_local_paths_and_file_urls_are_themselves_inside_the_allowed_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "storage"
    assert url_to_path(f"{root}/local/videos", root) == root / "local" / "videos"
    monkeypatch.setenv(LOCAL_STORAGE_ROOTS_ENV, f"/srv/nothing{os.pathsep}/data")
    assert url_to_path("/data/videos", root) == Path("/data/videos")
    assert url_to_path("file:///data/videos/", root) == Path("/data/videos")
    assert url_to_path("file://localhost/data/my%20clip.mp4", root) == Path("/data/my clip.mp4")


@pytest.mark.parametrize("url", ["/etc", "/etc/vda", "file:///root/.ssh", "/tmp", "/data-other/x"])
def test_a_local_path_outside_the_roots_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """An agent's storage_url alone cannot make the local backend read or write elsewhere (issue 14:
    an upload with storage_url=/etc/<x> created /etc/<x>/datasets/...)."""
    monkeypatch.setenv(LOCAL_STORAGE_ROOTS_ENV, "/data")
    with pytest.raises(InputError) as info:
        url_to_path(url, tmp_path / "storage")
    assert info.value.code == "storage-outside-roots"


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    with pytest.raises(InputError) as info:
        url_to_path(f"{root}/escape/passwd", root)
    assert info.value.code == "storage-outside-roots"


@pytest.mark.parametrize(
    "url",
    [
        "relative/path",
        "http://example.com/x",
        "file://otherhost/data",
        "s3://bucket/../../etc/passwd",
        "/data/../../etc",
        "azure://acct-only",
        "swift://endpoint/account",
        "tos://endpoint",
        "s3://",
        "",
        "   ",
    ],
)
def test_bad_urls_are_input_errors(tmp_path: Path, url: str) -> None:
    with pytest.raises(InputError) as info:
        url_to_path(url, tmp_path)
    assert info.value.code in ("invalid-storage-url", "storage-outside-roots")
    assert info.value.remedy


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["s3://", "gs://", "azure://", "tos://", "swift://", "file://", "/", "", "ftp://"]))
def test_mapping_never_escapes_and_only_raises_input_error(text: str, prefix: str) -> None:
    root = Path("/srv/vda-storage")
    url = prefix + text
    try:
        path = url_to_path(url, root)
    except InputError:
        return
    if prefix.endswith("://") and prefix != "file://":
        assert path.is_relative_to(root)
    assert ".." not in path.parts


def test_list_gives_full_sorted_urls(storage: LocalStorage) -> None:
    base = storage.path("s3://b/datasets/ds")
    _write(base / "b.mp4", "2")
    _write(base / "a.mp4", "1")
    _write(base / "sub" / "c.txt", "3")
    assert storage.list("s3://b/datasets/ds/") == [
        "s3://b/datasets/ds/a.mp4",
        "s3://b/datasets/ds/b.mp4",
        "s3://b/datasets/ds/sub/c.txt",
    ]
    assert storage.list("s3://b/datasets/ds/a.mp4") == ["s3://b/datasets/ds/a.mp4"]
    assert storage.list("s3://b/datasets/missing") == []


def test_list_of_a_local_folder_gives_paths(tmp_path: Path, storage: LocalStorage) -> None:
    _write(storage.root / "videos" / "clip.mp4", "v")
    assert storage.list(str(storage.root / "videos")) == [f"{storage.root}/videos/clip.mp4"]
    assert storage.list(f"file://{storage.root}/videos") == [f"file://{storage.root}/videos/clip.mp4"]


def test_download_puts_the_prefix_contents_into_dest(tmp_path: Path, storage: LocalStorage) -> None:
    base = storage.path("gs://b/run")
    _write(base / "x.txt", "x")
    _write(base / "deep" / "y.txt", "y")
    dest = tmp_path / "dest"
    got = storage.download("gs://b/run", dest)
    assert sorted(p.relative_to(dest).as_posix() for p in got) == ["deep/y.txt", "x.txt"]
    assert (dest / "deep" / "y.txt").read_text() == "y"
    single = storage.download("gs://b/run/deep/y.txt", tmp_path / "one")
    assert single == [tmp_path / "one" / "y.txt"]
    assert storage.download("gs://b/nothing", tmp_path / "none") == []


def test_download_resumes_by_size_and_mtime(tmp_path: Path, storage: LocalStorage) -> None:
    src = _write(storage.path("s3://b/p") / "clip.bin", "AAAA")
    dest = tmp_path / "dest"
    storage.download("s3://b/p", dest)
    copied = dest / "clip.bin"
    assert int(copied.stat().st_mtime) == int(src.stat().st_mtime)
    # same size and mtime: treated as already there, not copied again
    copied.write_text("BBBB")
    os.utime(copied, (src.stat().st_atime, src.stat().st_mtime))
    storage.download("s3://b/p", dest)
    assert copied.read_text() == "BBBB"
    # a different size: copied again
    copied.write_text("short")
    storage.download("s3://b/p", dest)
    assert copied.read_text() == "AAAA"


def test_download_regex_filters_relative_keys(tmp_path: Path, storage: LocalStorage) -> None:
    base = storage.path("s3://b/p")
    _write(base / "a.mp4", "1")
    _write(base / "a.json", "2")
    _write(base / "ba.mp4", "3")
    got = storage.download("s3://b/p", tmp_path / "d", regex=r".*\.mp4$")
    assert sorted(p.name for p in got) == ["a.mp4", "ba.mp4"]
    # OSMO 6.3.1 applies the regex with re.match on the key under the prefix (src/lib/data/storage):
    # anchored at the start, so "a" takes a.mp4 and a.json but not ba.mp4, and "\.mp4$" takes nothing
    got = storage.download("s3://b/p", tmp_path / "e", regex="a")
    assert sorted(p.name for p in got) == ["a.json", "a.mp4"]
    assert storage.download("s3://b/p", tmp_path / "f", regex=r"\.mp4$") == []


def test_upload_files_flat_and_directory_contents(tmp_path: Path, storage: LocalStorage) -> None:
    one = _write(tmp_path / "src" / "one.txt", "1")
    folder = tmp_path / "folder"
    _write(folder / "two.txt", "2")
    _write(folder / "nested" / "three.txt", "3")
    written = storage.upload("azure://acct/cont/out", [one, folder])
    assert written == ["azure://acct/cont/out/one.txt", "azure://acct/cont/out/nested/three.txt", "azure://acct/cont/out/two.txt"]
    assert storage.list("azure://acct/cont/out") == sorted(written)
    assert (storage.path("azure://acct/cont/out") / "nested" / "three.txt").read_text() == "3"


def test_upload_refuses_missing_sources_and_file_targets(tmp_path: Path, storage: LocalStorage) -> None:
    with pytest.raises(NotFound):
        storage.upload("s3://b/out", [tmp_path / "missing"])
    target = _write(storage.path("s3://b/file.txt"), "f")
    with pytest.raises(InputError):
        storage.upload("s3://b/file.txt", [target])


def test_backend_data_calls_round_trip(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    clip = _write(tmp_path / "clip.mp4", "video")
    backend.data_upload("s3://bucket/datasets/ds", [clip])
    assert backend.data_list("s3://bucket/datasets/ds") == ["s3://bucket/datasets/ds/clip.mp4"]
    got = backend.data_download("s3://bucket/datasets/ds", tmp_path / "back")
    assert [p.read_text() for p in got] == ["video"]
    assert (tmp_path / "root" / "storage" / "s3" / "bucket" / "datasets" / "ds" / "clip.mp4").is_file()
    with pytest.raises(NotFound):
        backend.data_download("s3://bucket/datasets/none", tmp_path / "x")


# --- concurrent writers and a full disk ----------------------------------------------------------


def test_concurrent_uploads_to_one_target_all_succeed_and_leave_one_whole_file(tmp_path: Path, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import threading
    import time

    from skill.backends import local_storage

    real_copy = shutil.copy2

    def slow_copy(source, target, *args, **kwargs):  # a big file: the copy takes a while
        result = real_copy(source, target, *args, **kwargs)
        time.sleep(0.002)
        return result

    monkeypatch.setattr(local_storage.shutil, "copy2", slow_copy)

    sources = []
    for index in range(2):
        src = tmp_path / f"src{index}" / "clip.mp4"
        src.parent.mkdir()
        src.write_bytes(bytes([65 + index]) * (1 << 20))
        os.utime(src, (1_000_000 + index, 1_000_000 + index))  # different mtimes: every upload copies
        sources.append(src)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def upload(src: Path) -> None:
        start.wait()
        for _ in range(15):
            try:
                storage.upload("s3://bucket/datasets/d", [src])
            except BaseException as exc:  # collected: the assertion below names it
                errors.append(exc)

    threads = [threading.Thread(target=upload, args=(src,)) for src in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    folder = storage.path("s3://bucket/datasets/d")
    assert sorted(p.name for p in folder.iterdir()) == ["clip.mp4"]  # no temporary file left behind
    assert (folder / "clip.mp4").read_bytes() in (sources[0].read_bytes(), sources[1].read_bytes())


def test_a_full_disk_is_a_coded_error_and_leaves_no_temporary_file(tmp_path: Path, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from skill.backends import local_storage
    from skill.errors import BackendError

    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x" * 4096)

    def full_disk(source, target, *args, **kwargs):
        Path(target).write_bytes(b"x" * 100)  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_storage.shutil, "copy2", full_disk)
    with pytest.raises(BackendError) as caught:
        storage.upload("s3://bucket/datasets/d", [src])
    assert caught.value.code == "disk-full" and caught.value.remedy
    assert "Errno" not in str(caught.value)
    folder = storage.path("s3://bucket/datasets/d")
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    storage.upload("s3://bucket/datasets/d", [src])  # space again: the upload works
    assert (folder / "clip.mp4").read_bytes() == src.read_bytes()


def test_a_double_slash_after_the_scheme_stays_under_the_root() -> None:
    root = Path("/srv/vda-storage")
    assert url_to_path("s3:////bucket/key", root) == root / "s3" / "bucket" / "key"
    with pytest.raises(InputError):
        url_to_path("s3:////", root)
