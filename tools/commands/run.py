"""``vda run``: the main job. Select flow, preflight, guard, submit, poll (with progress), stage,
render the side-by-side, and print the MEDIA line(s) and the summaries."""

from __future__ import annotations

import argparse
import sys

from skill.engines.configs import parse_condition
from skill.errors import InputError
from skill.ledger import Ledger
from skill.pipeline import RunEvent, RunRequest, RunResult, resume_pipeline, run_failure, run_pipeline
from tools.backends import add_backend_option, make_backend
from tools.output import emit, emit_error, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a whole VDA job (default: local backend, CPU engines)")
    src = p.add_argument_group("input (with none, the VDA demo dataset is used)")
    src.add_argument("--video", dest="videos", nargs="+", default=[], metavar="PATH", help="local video files (any container ffmpeg reads) or folders of them")
    src.add_argument("--folder", help="local folder of videos")
    src.add_argument("--dataset-url", help="an existing dataset on storage: <prefix>/datasets/<name>")
    src.add_argument("--sample", action="store_true", help="generate a short synthetic street clip (offline) and use it")
    src.add_argument("--resume", metavar="RUN_ID", help="carry on a fanned-out run that stopped: finished batches are kept, the rest run")
    p.add_argument("--flow", help="auto_labeling | augmentation_and_al (default) | e2e | e2e_super_resolution")
    p.add_argument("--request", dest="text", help="the request in words, used to pick the flow, e.g. 'label only'")
    p.add_argument("--cookbook", help="scene profile (default city_traffic)")
    p.add_argument("--dataset", help="dataset name for uploaded videos (default: one of the run's own, clips-<run>)")
    p.add_argument("--augmentations", type=int, help="augmentations per video (default: the cookbook's)")
    p.add_argument("--batch-size", type=int, default=4, help="configs per worker task, and per batch when fanning out (default 4)")
    p.add_argument("--max-in-flight", type=int, metavar="N",
                   help="fan the clips out as one workflow per batch, at most N at once (OSMO fans out by itself when the clips make "
                        "more than one batch, N from the pool's free GPUs)")
    add_backend_option(p)
    p.add_argument("--pool", help="OSMO pool (osmo backend)")
    p.add_argument("--gpu-platform", help="platform label (default: the first ONLINE pool's)")
    p.add_argument("--timeout", type=float, default=3600.0, help="longest wait for the workflow, seconds")
    p.add_argument("--condition", dest="conditions", action="append", default=[], metavar="VARIABLE=OPTION",
                   help="fix a look for every clip, e.g. weather=rain or time_of_day=evening|night (repeatable)")
    p.add_argument("--seed", type=int, help="sampling seed: the same seed draws the same looks (default: a fresh one)")
    p.add_argument("--nims", choices=("ensure", "check", "skip"), default="ensure",
                   help="cluster runs: reuse healthy NIMs, else deploy the allow-list once (ensure, default); fail instead (check); do not look (skip)")
    eng = p.add_argument_group("engines (default: the backend's own, classic CPU here, the containers on OSMO)")
    eng.add_argument("--label-engine", choices=("classic", "nim"), help="classic (CPU, local only) or nim (any OpenAI-compatible VLM/LLM server)")
    eng.add_argument("--augment-engine", choices=("classic", "cosmos"), help="classic (CPU, local only) or cosmos (Cosmos Transfer 2.5, needs a GPU)")
    eng.add_argument("--vlm-url", help="OpenAI-compatible VLM base URL, e.g. http://127.0.0.1:8000/v1 (your choice of server)")
    eng.add_argument("--llm-url", help="LLM base URL (default: the --vlm-url server)")
    eng.add_argument("--vlm-model", help="served model id to use (default: the first /v1/models lists)")
    eng.add_argument("--llm-model", help="served model id to use (default: the first /v1/models lists)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def _sample_clip() -> str:
    from skill.engines.synthetic import make_scene
    from skill.paths import workspace_dir

    path = workspace_dir() / "media" / "vda" / "samples" / "street_sample.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        make_scene(path, width=640, height=360, fps=10, seconds=4, seed=7, background="road")
    say(f"Using a generated synthetic street clip: {path}")
    return str(path)


def label_headline(summary) -> str:
    tracks = ", ".join(f"{n} {cls}" for cls, n in sorted(summary.tracks_by_class.items())) or "no tracks"
    qa = "; ".join(f"{p.question} -> {p.answer}" for p in summary.sample_qa[:3])
    text = f"{summary.tracks_total} tracks ({tracks}); {summary.mcq_items} MCQ, {summary.bcq_items} yes/no items"
    if summary.events is not None:
        text += f"; {summary.events} events"
    return text + (f"; e.g. {qa}" if qa else "")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def summary_lines(result: RunResult) -> list[str]:
    what = f"{result.batches} batch workflows" if result.batches else f"workflow {result.workflow_id}"
    lines = [f"{result.flow} on {result.backend}: {result.status} ({what}, {result.run_id})."]
    if result.local_run_dir:
        lines.append(f"Run folder: {result.local_run_dir}")
    for name, variables in sorted(result.sampled_vars.items()):
        lines.append(f"{name}: sampled " + ", ".join(f"{k}={v}" for k, v in sorted(variables.items())))
    for title, labels in (("augmented", result.augmented_labels), ("original", result.original_labels)):
        for name, summary in sorted(labels.items()):
            lines.append(f"Labels ({title}) {name}: {label_headline(summary)}")
    if result.elapsed_s is not None:
        took = f"Took {_duration(result.elapsed_s)} in all ({len(result.clips)} clip(s))"
        if result.workflow_s is not None:
            took += f", the workflow itself {_duration(result.workflow_s)}"
        lines.append(took + "; the estimate given at the start is above.")
    lines += result.statements
    if result.failed_tasks:
        lines.append(f"Failed tasks: {', '.join(result.failed_tasks)}")
        for task, tail in result.log_tail.items():
            lines.append(f"--- last log lines of {task} ---\n{tail}")
        if result.hint:
            lines.append(f"Hint: {result.hint}")
    return lines


def run(args: argparse.Namespace) -> int:
    videos = list(args.videos) + ([_sample_clip()] if args.sample else [])
    req = RunRequest(videos=videos, folder=args.folder, dataset_url=args.dataset_url, text=args.text, flow=args.flow,
                     cookbook=args.cookbook, dataset=args.dataset, augmentations=args.augmentations,
                     batch_size=args.batch_size, max_in_flight=args.max_in_flight, pool=args.pool, gpu_platform=args.gpu_platform, timeout_s=args.timeout,
                     nims=args.nims, conditions=dict(parse_condition(item) for item in args.conditions), seed=args.seed,
                     label_engine=args.label_engine, augment_engine=args.augment_engine,
                     vlm_url=args.vlm_url, llm_url=args.llm_url, vlm_model=args.vlm_model, llm_model=args.llm_model)

    def progress(event: RunEvent) -> None:
        if not args.json or sys.stderr.isatty():
            say(f"[{event.stage}] {event.message}")

    if args.resume and (videos or args.folder or args.dataset_url):
        raise InputError("--resume carries on a run that exists; it takes no new input.",
                         remedy="Drop --video/--folder/--dataset-url/--sample, or drop --resume to start a new run.", code="resume-with-input")
    if args.resume:
        result = resume_pipeline(args.resume, backend=make_backend(args.backend), ledger=Ledger(), emit=progress, timeout_s=args.timeout)
    else:
        result = run_pipeline(req, backend=make_backend(args.backend), ledger=Ledger(), emit=progress)
    if args.json:
        emit(result, as_json=True)
    else:
        print("\n".join(summary_lines(result)))
        for line in result.media_lines:
            print(line)
    if result.status != "COMPLETED":
        emit_error(run_failure(result), as_json=False)  # stderr only: with --json the result is already on stdout
        return 1
    return 0
