"""The engine calls an e2e run makes for one clip, timed in this process with the modules already
imported: what the run has to compute, without start-up, scheduling, staging or polling.

Two benchmarks take their baseline from it: ``bench_overhead`` (a run's fixed cost is its wall minus
these calls) and ``bench_run`` (the same calls on the 80 s clip, one after another, set the floor
that no schedule on this machine's cores can beat).

The calls are those of the run's tasks: the classic augmentation with its side-by-side (rendered
in the same pass into a compare cache, as the run's augmentation task does), the original clip
labelled, and the augmented clip labelled. CPU is this process's user + system time across the call,
so the engines' helper threads (decode, encode, read-ahead) are counted.
"""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skill.paths import cookbooks_dir

__all__ = ["COOKBOOK", "Part", "engine_calls", "generate", "timed"]

COOKBOOK = "city_traffic"


@dataclass(frozen=True)
class Part:
    name: str
    wall: float
    cpu: float


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(name: str, call: Callable[[], object]) -> Part:
    """Wall and CPU seconds of ``call()`` (every thread of this process)."""
    cpu, start = _cpu_seconds(), time.perf_counter()
    call()
    return Part(name, time.perf_counter() - start, _cpu_seconds() - cpu)


def generate(clip: Path, work: Path, *, seed: int | None = None) -> tuple[Part, Path]:
    """The cookbook copied to ``work/cfg`` and the clip's configs generated into it, as the setup
    task does (with ``seed``: the looks a run given ``--seed`` samples); returns that call's timing
    and the config folder."""
    from skill.engines import configs as gen

    config_dir = work / "cfg"
    shutil.copytree(cookbooks_dir() / COOKBOOK, config_dir)
    part = timed("configs", lambda: gen.generate_configs(clip.parent, config_dir, config_dir, run_id="run-0badcafe",
                                                         seed=seed, only=clip.stem, log=lambda _line: None))
    return part, config_dir


def engine_calls(clip: Path, config_dir: Path, work: Path) -> list[Part]:
    """Augment (with the side-by-side), label the original, label the augmented clip: the three
    engine calls of an e2e run on ``clip`` with the configs in ``config_dir``, one after another."""
    from skill.engines import augment as aug
    from skill.engines import label as lab

    al_config = config_dir / "auto_labeling" / "auto_labeling_config.yaml"
    bank = config_dir / "auto_labeling" / "question_bank.json"
    (work / "compare").mkdir(parents=True, exist_ok=True)
    augmented = work / "aug" / "augmented_video.mp4"
    return [
        timed("augment", lambda: aug.augment("classic", config_dir / f"{clip.stem}_aug0.yaml", clip, work / "aug",
                                             compare_cache=work / "compare")),
        timed("label original", lambda: lab.label(lab.LabelRequest(engine="classic", video=clip, output_dir=work / "orig",
                                                                   config=al_config, question_bank=bank, super_resolution=False))),
        timed("label augmented", lambda: lab.label(lab.LabelRequest(engine="classic", video=augmented, output_dir=work / "augl",
                                                                    config=al_config, question_bank=bank))),
    ]
