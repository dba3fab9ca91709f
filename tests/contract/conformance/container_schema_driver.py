"""Validate configs with a container's own schema classes; run in a subprocess by the conformance tests.

    python container_schema_driver.py {auto-labeling|augmentation} <checkout root>   < items.json

stdin: a JSON list of ``{"name", "config", "overrides", "applied"}``. The checkout's ``modules/``
goes first on ``sys.path`` and the container's ``PipelineConfig`` judges each item. The overrides are
applied the container's way (OmegaConf dotlist merge, then resolve) when ``omegaconf`` is
importable here; otherwise ``applied`` (the same overrides applied by our own code) is used.
stdout: a JSON list of ``{"name", "ok", "errors"}`` and the field ``omegaconf`` on each.
Kept apart from the test process so the containers' packages never mix with ours.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load_schema(kind: str, root: Path) -> Any:
    sys.path.insert(0, str(root / "modules"))
    if kind == "auto-labeling":
        from al_utils.schema.config import PipelineConfig
    else:
        from aug_utils.schema import PipelineConfig
    return PipelineConfig


def _with_overrides(item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    try:
        from omegaconf import OmegaConf
    except ImportError:
        return item["applied"], False
    conf = OmegaConf.create(item["config"])
    OmegaConf.set_struct(conf, False)
    if item["overrides"]:
        conf.merge_with_dotlist(list(item["overrides"]))
    return OmegaConf.to_container(conf, resolve=True), True  # type: ignore[return-value]


def main() -> int:
    kind, root = sys.argv[1], Path(sys.argv[2])
    schema = _load_schema(kind, root)
    from pydantic import ValidationError

    results = []
    for item in json.load(sys.stdin):
        config, used_omegaconf = _with_overrides(item)
        try:
            if kind == "auto-labeling":
                schema.model_validate(config)  # what validate_schema() in modules/config/schema.py does
            else:
                schema(**config)  # what validate_config_structure() in aug_utils/common.py does
            errors: list[str] = []
        except ValidationError as exc:
            errors = [".".join(str(p) for p in e["loc"]) + f": {e['type']}: {e['msg']}" for e in exc.errors(include_input=False)]
        except ValueError as exc:
            errors = [f"ValueError: {exc}"]
        results.append({"name": item["name"], "ok": not errors, "errors": errors, "omegaconf": used_omegaconf})
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
