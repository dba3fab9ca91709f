"""``vda demo [DEMO_DIR]``: pull the VDA demo videos (nvidia/video-data-augmentation-demo) from
Hugging Face and lay them out flat, ready for ``vda upload``."""

from __future__ import annotations

import argparse

from skill.steps.demo import DEMO_REPO, DemoRequest, DemoResult, prepare_demo_assets
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="download the VDA demo videos and flatten them into DEMO_DIR")
    p.add_argument("demo_dir", nargs="?", help="flat output folder (default <workspace>/media/vda/inputs/vda-demo)")
    p.add_argument("--repo", default=DEMO_REPO, help=f"Hugging Face dataset (default {DEMO_REPO})")
    p.add_argument("--revision", default="main")
    p.add_argument("--subdir", default="", help="folder inside the repo")
    p.add_argument("--allow-non-vda", action="store_true", help="only when the user explicitly asked for another dataset")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    req = DemoRequest(demo_dir=args.demo_dir, repo=args.repo, revision=args.revision, subdir=args.subdir, allow_non_vda=args.allow_non_vda)
    result = prepare_demo_assets(req)
    emit(result, as_json=args.json, text=_text(result))
    return 0


def _text(result: DemoResult) -> str:
    lines = [f"Prepared {len(result.files)} demo video(s) in {result.demo_dir}:"]
    lines += [f"  {f.name} ({f.size} bytes)" for f in result.files]
    lines += [
        result.source_statement,
        f"Upload: vda upload {result.demo_dir} --storage-url <storage_url> --name {result.dataset}",
        f'  (OSMO: osmo data upload <storage_url>/datasets/{result.dataset}/ "{result.demo_dir}"/*.mp4)',
    ]
    return "\n".join(lines)
