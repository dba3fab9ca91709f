"""``vda upload FOLDER --storage-url U --name NAME``: upload a folder's videos flat to
<storage_url>/datasets/<name>/."""

from __future__ import annotations

import argparse

from skill.steps.demo import UploadRequest, upload_dataset
from tools.output import emit
from tools.backends import add_backend_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upload", help="upload a folder's videos as a dataset")
    p.add_argument("folder")
    p.add_argument("--storage-url", required=True)
    p.add_argument("--name", required=True, help="dataset name, e.g. vda-demo")
    p.add_argument("--recursive", action="store_true", help="also take videos from subfolders (uploaded flat)")
    add_backend_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.backends import make_backend

    req = UploadRequest(folder=args.folder, storage_url=args.storage_url, name=args.name, recursive=args.recursive)
    result = upload_dataset(req, backend=make_backend(args.backend))
    text = [f"Uploaded {len(result.files)} video(s) to {result.dataset_url}", f"DATASET_URL={result.dataset_url}"]
    text += [f"WARNING: {w}" for w in result.warnings]
    emit(result, as_json=args.json, text="\n".join(text))
    return 0
