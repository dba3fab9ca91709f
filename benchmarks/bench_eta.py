"""ETA against the actual workflow time on the local backend, over clips of three lengths and two
sizes, for a labeling and an augmenting flow (issue 10's target: each ratio within 0.5-2x).

A fresh ETA store; the clips run in a rotated order (short/long, small/large interleaved), each
estimated *before* it runs from the runs so far (the first one from the static table), then run
for real with ``run_pipeline``. A row per run: the midpoint of the announced range against the
measured submit-to-end time, and whether the estimate was measured or static.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LENGTHS_QUICK = (1, 3, 6)
LENGTHS_FULL = (4, 12, 30)
SIZES = ((320, 180), (640, 360))
FLOWS = ("auto_labeling", "augmentation_and_al")


def _order(lengths: tuple[int, ...]) -> list[tuple[int, tuple[int, int]]]:
    pairs = [(s, size) for s in lengths for size in SIZES]
    return pairs[::2] + pairs[1::2]  # small and large, short and long interleaved


def run(quick: bool) -> list[dict]:
    from skill.backends.local import LocalBackend
    from skill.engines.synthetic import make_scene
    from skill.eta_model import ClipShape, estimate
    from skill.ledger import Ledger
    from skill.pipeline import RunRequest, run_pipeline

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vda-bench-eta-") as tmp:
        root = Path(tmp)
        saved = {k: os.environ.get(k) for k in ("VDA_HOME", "VDA_ETA_STORE")}
        os.environ["VDA_HOME"] = str(root / "home")
        os.environ["VDA_ETA_STORE"] = str(root / "eta.json")
        try:
            backend = LocalBackend(root / "home" / ".vda" / "local")
            with Ledger(root / "ledger.sqlite") as ledger:
                for flow, (seconds, (width, height)) in [(f, case) for f in FLOWS for case in _order(LENGTHS_QUICK if quick else LENGTHS_FULL)]:
                    clip = root / f"clip_{seconds}s_{width}.mp4"
                    if not clip.exists():
                        make_scene(clip, width=width, height=height, fps=10, seconds=seconds, seed=seconds, background="road")
                    eta = estimate(flow, "local", [ClipShape(seconds=seconds, width=width, height=height)], augmentations=1)
                    predicted_s = 30 * (eta.flow_minutes.min_minutes + eta.flow_minutes.max_minutes)
                    result = run_pipeline(RunRequest(flow=flow, videos=[str(clip)], augmentations=1), backend=backend, ledger=ledger)
                    actual = result.workflow_s or 0.0
                    rows.append({
                        "name": f"{flow} {seconds}s {width}x{height}", "ours_s": round(predicted_s, 2), "baseline_s": round(actual, 2),
                        "ratio": round(predicted_s / actual, 3) if actual else None, "target": "0.5-2",
                        "notes": f"estimate {'measured here' if 'measured' in (eta.basis or '') else 'default model'}; status {result.status}",
                    })
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return rows
