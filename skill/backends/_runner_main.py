"""Entry of the detached runner process: ``python -m skill.backends._runner_main <run_dir>``.

It starts the run's warm starter (:mod:`skill.backends._local_warm`) before anything else, with the
standard library only, so the starter imports the engines while this process imports the runner
(pydantic and the state models); then it runs :func:`skill.backends.local_runner.main`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from skill.backends._local_io import RUNNER_LOCK_FD_ENV
from skill.backends._local_warm import WarmStarter
from skill.secrets import redact

ENGINE_CHOICE = ("VDA_LABEL_ENGINE", "VDA_AUGMENT_ENGINE")  # a task that names an engine runs one: start warm


def names_engines(plan_path: Path) -> bool:
    """Whether a task of the plan chooses an engine (the VDA workflows' workers do); False when the
    plan cannot be read (the runner then reports that itself)."""
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        return any(key in (task.get("environment") or {}) for group in plan["groups"] for task in group["tasks"] for key in ENGINE_CHOICE)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    warm = None
    if len(args) == 1 and names_engines(Path(args[0]) / "plan.json"):
        warm = WarmStarter(Path(args[0]))
        warm.start({k: v for k, v in os.environ.items() if k != RUNNER_LOCK_FD_ENV and redact(v) == v})
    from skill.backends import local_runner

    return local_runner.main(args, warm=warm)


if __name__ == "__main__":
    sys.exit(main())
