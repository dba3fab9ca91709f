"""Storage URLs: parsing per scheme, local paths, join, same_root, storage_url derivation, run/cache URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.errors import InputError, UserInputRequired
from skill.models import SubmitValues
from skill.storage import (
    DatasetLocation,
    StorageUrl,
    cache_urls,
    derive_from_dataset_url,
    join,
    output_url,
    parse_storage_url,
    same_root,
)

# --- remote schemes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "root", "container", "path", "normal"),
    [
        ("s3://bucket", "s3", "s3://bucket", "bucket", "", "s3://bucket"),
        ("s3://metro-vda/datasets/city-traffic-raw/", "s3", "s3://metro-vda", "metro-vda", "datasets/city-traffic-raw",
         "s3://metro-vda/datasets/city-traffic-raw"),
        ("S3://Bucket.v2/a/b.mp4", "s3", "s3://Bucket.v2", "Bucket.v2", "a/b.mp4", "s3://Bucket.v2/a/b.mp4"),
        ("gs://metro-sdg/prefix", "gs", "gs://metro-sdg", "metro-sdg", "prefix", "gs://metro-sdg/prefix"),
        ("azure://storiondevxah69/osmo-workflows", "azure", "azure://storiondevxah69", "osmo-workflows", "",
         "azure://storiondevxah69/osmo-workflows"),
        ("azure://acct/cont/datasets/vda-demo", "azure", "azure://acct", "cont", "datasets/vda-demo",
         "azure://acct/cont/datasets/vda-demo"),
        ("swift://swift.example.com/AUTH_team/vda", "swift", "swift://swift.example.com/AUTH_team", "vda", "",
         "swift://swift.example.com/AUTH_team/vda"),
        ("swift://10.0.0.5:8080/acct/cont/a/b/", "swift", "swift://10.0.0.5:8080/acct", "cont", "a/b",
         "swift://10.0.0.5:8080/acct/cont/a/b"),
        ("tos://tos-cn-beijing.volces.com/bucket", "tos", "tos://tos-cn-beijing.volces.com/bucket", "bucket", "",
         "tos://tos-cn-beijing.volces.com/bucket"),
        ("tos://tos.example.com/bucket/key/x", "tos", "tos://tos.example.com/bucket", "bucket", "key/x",
         "tos://tos.example.com/bucket/key/x"),
    ],
)
def test_parse_remote(url: str, scheme: str, root: str, container: str, path: str, normal: str) -> None:
    parsed = parse_storage_url(url)
    assert (parsed.scheme, parsed.root, parsed.container, parsed.path, parsed.url) == (scheme, root, container, path, normal)
    assert parsed.is_local is False
    assert str(parsed) == normal


@pytest.mark.parametrize(
    ("url", "expects"),
    [
        ("s3://", "s3://<bucket>"),
        ("s3:///key", "s3://<bucket>"),
        ("gs://", "gs://<bucket>"),
        ("gs://-bad-/x", "gs://<bucket>"),
        ("azure://acct", "azure://<account>/<container>"),
        ("azure://acct/", "azure://<account>/<container>"),
        ("swift://endpoint/acct", "swift://<endpoint>/<account>/<container>"),
        ("swift://bad_endpoint!/a/c", "swift://<endpoint>/<account>/<container>"),
        ("tos://endpoint", "tos://<endpoint>/<bucket>"),
        ("s3://bucket//double", "s3://<bucket>"),
        ("s3://bucket/a/../b", "s3://<bucket>"),
        ("s3://bucket/./b", "s3://<bucket>"),
        ("s3://bucket/x?versionId=1", "s3://<bucket>"),
        ("http://minio.local:9000/bucket", "s3://<bucket>"),
        ("https://acct.blob.core.windows.net/cont", "azure://<account>/<container>"),
        ("ftp://host/x", "s3://<bucket>"),
        ("bucket/datasets/x", "s3://<bucket>"),
        ("metro-vda", "s3://<bucket>"),
        ("", "s3://<bucket>"),
        ("   ", "s3://<bucket>"),
        ("s3://bucket/with space", "s3://<bucket>"),
        ("s3://bucket/tab\there", "s3://<bucket>"),
        ("s3://bucket\\key", "s3://<bucket>"),
    ],
)
def test_parse_rejects_with_expected_form(url: str, expects: str) -> None:
    with pytest.raises(InputError) as info:
        parse_storage_url(url)
    assert info.value.code == "invalid-storage-url"
    assert expects in (info.value.remedy or "")


def test_a_bare_bucket_is_never_read_as_s3() -> None:
    with pytest.raises(InputError) as info:
        parse_storage_url("metro-vda/datasets/city-traffic-raw")
    assert "never assumed" in info.value.message


def test_rejected_values_are_not_echoed() -> None:
    secretish = "s3://AKIAEXAMPLE:wJalrXUtnFEMIK7MDENG@bucket/key"
    with pytest.raises(InputError) as info:
        parse_storage_url(secretish)
    text = str(info.value)
    assert "wJalrXUtnFEMIK7MDENG" not in text and "AKIAEXAMPLE" not in text


# --- local storage -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path", "normal"),
    [
        ("/data/vda", "/data/vda", "/data/vda"),
        ("/data/vda/", "/data/vda", "/data/vda"),
        ("/data//vda/./x", "/data/vda/x", "/data/vda/x"),
        ("/", "/", "/"),
        ("file:///data/vda/", "/data/vda", "file:///data/vda"),
        ("file://localhost/data/vda", "/data/vda", "file:///data/vda"),
        ("FILE:///data", "/data", "file:///data"),
        ("file:///", "/", "file:///"),
    ],
)
def test_parse_local(url: str, path: str, normal: str) -> None:
    parsed = parse_storage_url(url)
    assert (parsed.scheme, parsed.root, parsed.container, parsed.path, parsed.url) == ("file", "file://", None, path, normal)
    assert parsed.is_local is True


def test_relative_local_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_storage_url("./store/").url == str(tmp_path / "store")
    assert parse_storage_url("../up").url == str(tmp_path.parent / "up")


def test_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_storage_url("~/vda").url == str(tmp_path / "vda")
    with pytest.raises(InputError):
        parse_storage_url("~someone/vda")


@pytest.mark.parametrize("url", ["file://otherhost/data", "file://", "file:relative", "file:///data with space"])
def test_bad_file_urls(url: str) -> None:
    with pytest.raises(InputError) as info:
        parse_storage_url(url)
    assert info.value.code == "invalid-storage-url"


def test_storage_url_round_trips_through_json() -> None:
    parsed = parse_storage_url("azure://acct/cont/x")
    assert StorageUrl.model_validate_json(parsed.model_dump_json()) == parsed
    assert parse_storage_url(parsed) is parsed


# --- join and same_root ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "parts", "want"),
    [
        ("s3://bucket", ("datasets", "vda-demo"), "s3://bucket/datasets/vda-demo"),
        ("s3://bucket/prefix/", ("datasets/vda-demo/", "clip.mp4"), "s3://bucket/prefix/datasets/vda-demo/clip.mp4"),
        ("azure://acct/cont", (), "azure://acct/cont"),
        ("/data/vda", ("datasets",), "/data/vda/datasets"),
        ("/", ("datasets",), "/datasets"),
        ("file:///", ("datasets", "x"), "file:///datasets/x"),
        ("file:///data", ("a",), "file:///data/a"),
    ],
)
def test_join(base: str, parts: tuple[str, ...], want: str) -> None:
    assert join(base, *parts) == want


@pytest.mark.parametrize("part", ["..", "a/../b", "", "a//b", "s3://other/x", "with space", "./x"])
def test_join_rejects_unsafe_parts(part: str) -> None:
    with pytest.raises(InputError) as info:
        join("s3://bucket/prefix", part)
    assert info.value.code == "invalid-storage-url"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("s3://bucket/a", "s3://bucket/b/c", True),
        ("s3://bucket", "s3://other", False),
        ("s3://bucket/x", "gs://bucket/x", False),
        ("azure://acct/cont/a", "azure://acct/cont", True),
        ("azure://acct/cont1", "azure://acct/cont2", False),
        ("azure://acct1/cont", "azure://acct2/cont", False),
        ("swift://e/acct/c/x", "swift://e/acct/c", True),
        ("swift://e/acct/c1", "swift://e/acct/c2", False),
        ("tos://e/b/x", "tos://e/b/y", True),
        ("/data/a", "file:///other", True),
        ("/data/a", "s3://data/a", False),
    ],
)
def test_same_root(a: str, b: str, same: bool) -> None:
    assert same_root(a, b) is same
    assert same_root(b, a) is same


# --- deriving storage_url from a dataset URL ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "storage_url", "dataset"),
    [
        ("azure://storiondevxah69/osmo-workflows/datasets/vda-demo", "azure://storiondevxah69/osmo-workflows", "vda-demo"),
        ("s3://metro-vda/datasets/city-traffic-raw", "s3://metro-vda", "city-traffic-raw"),
        ("gs://metro-sdg/datasets/piazza_clips/", "gs://metro-sdg", "piazza_clips"),
        ("s3://bucket/team/a/datasets/x1", "s3://bucket/team/a", "x1"),
        ("swift://swift.example.com/AUTH_t/cont/datasets/wh", "swift://swift.example.com/AUTH_t/cont", "wh"),
        ("tos://tos.example.com/bkt/datasets/dash-cam", "tos://tos.example.com/bkt", "dash-cam"),
        ("/abs/path/datasets/x", "/abs/path", "x"),
        ("file:///abs/datasets/x", "file:///abs", "x"),
        ("/datasets/x", "/", "x"),
        ("s3://b/datasets/a/datasets/inner", "s3://b/datasets/a", "inner"),
    ],
)
def test_derive(url: str, storage_url: str, dataset: str) -> None:
    loc = derive_from_dataset_url(url)
    assert loc == DatasetLocation(storage_url=storage_url, dataset=dataset, dataset_url=parse_storage_url(url).url)
    assert join(loc.storage_url, "datasets", loc.dataset) == loc.dataset_url
    assert same_root(loc.storage_url, loc.dataset_url)


def test_derive_never_keeps_datasets_in_the_prefix() -> None:
    # upstream's first evals expected storage_url=s3://metro-vda/datasets (removed in 0482ebc): wrong layout
    loc = derive_from_dataset_url("s3://metro-vda/datasets/city-traffic-raw")
    assert loc.storage_url == "s3://metro-vda"
    assert not loc.storage_url.endswith("/datasets")


def test_derived_values_fit_submit_values() -> None:
    loc = derive_from_dataset_url("azure://storiondevxah69/osmo-workflows/datasets/vda-demo")
    values = SubmitValues(
        dataset=loc.dataset, run_id="run-1a2b3c4d", storage_url=loc.storage_url, gpu_platform="gpu", video="clip",
        skills_dir="/opt/skill", **cache_urls(loc.storage_url),
    )
    assert values.cosmos_model_cache_url == "azure://storiondevxah69/osmo-workflows/data/models/cosmos_transfer"


@pytest.mark.parametrize(
    ("url", "in_question"),
    [
        ("s3://metro-vda/city-traffic-raw", "datasets/city-traffic-raw"),
        ("s3://metro-vda", "your dataset"),
        ("s3://metro-vda/datasets", "your dataset"),
        ("s3://metro-vda/datasets/", "your dataset"),
        ("azure://acct/datasets/vda-demo", "datasets/vda-demo"),  # 'datasets' is the container here, not a folder
        ("s3://b/datasets/9starts-with-digit", "your dataset"),
        ("s3://b/datasets/name.with.dots", "your dataset"),
        ("s3://b/datasets/vda-demo/clip.mp4", "your dataset"),
        ("/data/vda", "datasets/vda"),
    ],
)
def test_derive_asks_when_it_cannot(url: str, in_question: str) -> None:
    with pytest.raises(UserInputRequired) as info:
        derive_from_dataset_url(url)
    assert info.value.missing == "storage_url"
    assert info.value.question.startswith("Which storage prefix holds")
    assert in_question in info.value.question
    assert info.value.code == "user-input-required"


def test_derive_malformed_url_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        derive_from_dataset_url("metro-vda/datasets/x")
    assert info.value.code == "invalid-storage-url"


# --- run and cache URLs ----------------------------------------------------------------------------


def test_output_url() -> None:
    assert output_url("azure://acct/cont", "vda-demo", "run-1a2b3c4d") == "azure://acct/cont/datasets/vda-demo-outputs/run-1a2b3c4d"
    assert output_url("/data/vda/", "d", "run-00000000") == "/data/vda/datasets/d-outputs/run-00000000"


@pytest.mark.parametrize(("dataset", "run_id", "code"), [
    ("vda-demo", "run-XYZ", "invalid-run-id"),
    ("vda-demo", "run-1a2b3c4d/../x", "invalid-run-id"),
    ("../etc", "run-1a2b3c4d", "invalid-dataset"),
    ("9lives", "run-1a2b3c4d", "invalid-dataset"),
])
def test_output_url_rejects_bad_names(dataset: str, run_id: str, code: str) -> None:
    with pytest.raises(InputError) as info:
        output_url("s3://bucket", dataset, run_id)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("storage_url", "cosmos", "auto"),
    [
        ("s3://bucket", "s3://bucket/data/models/cosmos_transfer", "s3://bucket/data/models/auto_labeling"),
        ("azure://acct/cont/", "azure://acct/cont/data/models/cosmos_transfer", "azure://acct/cont/data/models/auto_labeling"),
        ("/srv/vda", "/srv/vda/data/models/cosmos_transfer", "/srv/vda/data/models/auto_labeling"),
    ],
)
def test_cache_urls(storage_url: str, cosmos: str, auto: str) -> None:
    assert cache_urls(storage_url) == {"cosmos_model_cache_url": cosmos, "auto_labeling_model_cache_url": auto}


# --- properties ----------------------------------------------------------------------------------------

_schemes = st.sampled_from(["s3://", "gs://", "azure://", "swift://", "tos://", "file://", "file:///", "http://", "", "/", "./", "~/", "S3://"])
_piece = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("/.-_:@?#%~"), max_size=30)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), st.builds(lambda s, p: s + p, _schemes, _piece)))
def test_parse_raises_only_input_error(url: str) -> None:
    try:
        parsed = parse_storage_url(url)
    except InputError:
        return
    again = parse_storage_url(parsed.url)  # the normalized form is a fixed point
    assert again == parsed
    assert not parsed.url.endswith("/") or parsed.path == "/"


@settings(max_examples=200, deadline=None)
@given(st.builds(lambda s, p: s + p, _schemes, _piece))
def test_derive_raises_only_skill_input_errors(url: str) -> None:
    try:
        loc = derive_from_dataset_url(url)
    except (InputError, UserInputRequired):
        return
    assert join(loc.storage_url, "datasets", loc.dataset) == loc.dataset_url

