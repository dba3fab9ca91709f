#!/usr/bin/env python3
"""Turn hand-placed keyframe boxes into MOTChallenge ground truth by linear interpolation.

    python3 scripts/dev/mot_keyframes.py tests/data/real/parking-lot/keyframes.csv \
        tests/data/real/parking-lot/gt/gt.txt

The keyframes file has ``#`` comments, one ``object,<id>,<MOT class>,<what>`` line per object, and
one ``<id>,<frame>,<x1>,<y1>,<x2>,<y2>`` line per keyframe (frames 1-based, pixel edges of the
visible part of the object, clipped to the image). An object is annotated from its first keyframe
to its last; between two keyframes each edge moves linearly. The output has one line per object
per frame, ``frame,id,x,y,w,h,1,class,1`` (MOT16 layout: consider-flag 1, visibility 1), sorted by
frame then id. Standard library only, so it runs without the project's environment.
"""

from __future__ import annotations

import sys
from pathlib import Path


def read_keyframes(path: Path) -> tuple[dict[int, int], dict[int, list[tuple[int, tuple[float, ...]]]]]:
    classes: dict[int, int] = {}
    keys: dict[int, list[tuple[int, tuple[float, ...]]]] = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split(",")]
        if cells[0] == "object":
            classes[int(cells[1])] = int(cells[2])
            continue
        if len(cells) != 6:
            raise SystemExit(f"{path}:{n}: expected id,frame,x1,y1,x2,y2")
        oid, frame = int(cells[0]), int(cells[1])
        x1, y1, x2, y2 = (float(c) for c in cells[2:])
        if not (x2 > x1 and y2 > y1):
            raise SystemExit(f"{path}:{n}: empty box")
        keys.setdefault(oid, []).append((frame, (x1, y1, x2, y2)))
    for oid, rows in keys.items():
        if oid not in classes:
            raise SystemExit(f"{path}: object {oid} has keyframes but no 'object,{oid},<class>,...' line")
        frames = [f for f, _ in rows]
        if frames != sorted(set(frames)):
            raise SystemExit(f"{path}: object {oid}: keyframes out of order or repeated")
    return classes, keys


def interpolate(keys: list[tuple[int, tuple[float, ...]]]) -> dict[int, tuple[float, ...]]:
    boxes = {keys[0][0]: keys[0][1]}
    for (f0, b0), (f1, b1) in zip(keys, keys[1:]):
        for f in range(f0 + 1, f1 + 1):
            t = (f - f0) / (f1 - f0)
            boxes[f] = tuple(a + (b - a) * t for a, b in zip(b0, b1))
    return boxes


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    classes, keys = read_keyframes(Path(argv[0]))
    rows = []
    for oid, k in keys.items():
        for frame, (x1, y1, x2, y2) in interpolate(k).items():
            rows.append((frame, oid, x1, y1, x2 - x1, y2 - y1, classes[oid]))
    rows.sort()
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{f},{i},{x:.1f},{y:.1f},{w:.1f},{h:.1f},1,{c},1\n" for f, i, x, y, w, h, c in rows),
                   encoding="utf-8")
    print(f"{out}: {len(rows)} boxes, {len(keys)} objects, frames {rows[0][0]}-{rows[-1][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
