"""The tracking overlay (``sidecars/<stem>_tracking.mp4``): the final tracks' boxes and ids drawn over
the analysed clip, at most 640 px wide (cheap to write and to view).

The boxes are only known once the whole clip is tracked (a track is confirmed, back-filled,
interpolated, kept or dropped and numbered at the end), so the pictures are taken while the clip is
decoded for the analysis and drawn on afterwards: :class:`OverlaySpool` receives every decoded frame
from that single pass, scales its planes straight to the overlay size (I420, no RGB conversion) and
appends them to an uncompressed spool file beside the outputs; :meth:`OverlaySpool.finish` reads the
spool back, draws the boxes (only frames with boxes go through RGB) and encodes. Nothing is decoded
twice and memory stays flat (the spool is on disk).

A clip whose spool would not fit the budget (``SPOOL_MAX_BYTES``, or half the free disk) is drawn by
decoding it a second time instead (:func:`write_by_decoding`, the same drawing).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from skill.engines._daft import distinct_color
from skill.engines._tracker import Track
from skill.engines.video_io import VideoInfo, VideoWriter, iter_frames

__all__ = ["MAX_WIDTH", "SPOOL_MAX_BYTES", "OverlaySpool", "overlay_size", "spool_fits", "write_by_decoding"]

MAX_WIDTH = 640
SPOOL_MAX_BYTES = 2 << 30  # 2 GiB: about 100 min of 640x360 at 1 fps, or 10 min at 10 fps
_PRESET, _CRF = "ultrafast", 28
_DIRECT = frozenset({"yuv420p"})  # planes copied and scaled as they are (limited-range BT.601, as we encode)

Boxes = dict[int, list[tuple[str, np.ndarray, list[int]]]]


def overlay_size(width: int, height: int) -> tuple[int, int, float]:
    """``(width, height, scale)`` of the overlay: at most :data:`MAX_WIDTH` wide, even sizes."""
    scale = min(1.0, MAX_WIDTH / width)
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h, scale


def spool_fits(info: VideoInfo, folder: Path) -> bool:
    """True when the clip's spool stays under the budget and under half the free disk of ``folder``."""
    w, h, _ = overlay_size(info.width, info.height)
    need = w * h * 3 // 2 * max(info.frames, 1)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return False
    return need <= SPOOL_MAX_BYTES and need <= free // 2


def _boxes_by_frame(tracks: Iterable[Track], scale: float) -> Boxes:
    by_frame: Boxes = {}
    for track in tracks:
        color = distinct_color(track.track_id)
        for f, box in zip(track.frames, track.boxes, strict=True):
            by_frame.setdefault(f, []).append((f"{track.label}_{track.track_id}", box * scale, color))
    return by_frame


def _draw(img: np.ndarray, boxes: Sequence[tuple[str, np.ndarray, list[int]]]) -> np.ndarray:
    for name, box, color in boxes:
        p1, p2 = (int(box[0]), int(box[1])), (int(box[2]), int(box[3]))
        cv2.rectangle(img, p1, p2, color, 2)
        cv2.putText(img, name, (p1[0], max(10, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    return img


def _plane(frame: av.VideoFrame, k: int) -> np.ndarray:
    plane = frame.planes[k]
    data = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return data[:, : plane.width]


def _fit(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``plane`` scaled to ``size``: area averaging from half size down (where it is also OpenCV's
    fast path), bilinear above (a 768 -> 640 overlay: a quarter of INTER_AREA's cost at a
    non-integer ratio, and too slight a reduction to alias)."""
    if (plane.shape[1], plane.shape[0]) == size:
        return plane
    halved = plane.shape[1] >= 2 * size[0]
    return cv2.resize(plane, size, interpolation=cv2.INTER_AREA if halved else cv2.INTER_LINEAR)


class OverlaySpool:
    """Collects the overlay's pictures during the analysis pass; :meth:`finish` draws and encodes them."""

    def __init__(self, path: Path, info: VideoInfo) -> None:
        self.path = path
        self.width, self.height, self.scale = overlay_size(info.width, info.height)
        self.frame_bytes = self.width * self.height * 3 // 2
        self.frames = 0
        self._buffer = np.empty((self.height * 3 // 2, self.width), np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w+b")  # noqa: SIM115 - closed by finish() or discard()

    def add(self, frame: av.VideoFrame, gray: np.ndarray) -> None:
        """Append decoded ``frame`` (``gray`` is its luma, already extracted by the analysis)."""
        w, h = self.width, self.height
        if frame.format.name in _DIRECT:
            out = self._buffer
            flat = out.reshape(-1)
            out[:h] = _fit(gray, (w, h))
            quarter = (w // 2) * (h // 2)
            flat[w * h : w * h + quarter] = _fit(_plane(frame, 1), (w // 2, h // 2)).reshape(-1)
            flat[w * h + quarter :] = _fit(_plane(frame, 2), (w // 2, h // 2)).reshape(-1)
        else:  # full-range, 10-bit, RGB...: let swscale convert and scale in one step
            out = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA").to_ndarray()
        self._file.write(out.data if out.flags.c_contiguous else out.tobytes())
        self.frames += 1

    def finish(self, dst: Path, tracks: Iterable[Track], rate: Fraction | float) -> int:
        """Draw ``tracks`` over the spooled pictures into ``dst``; remove the spool. Frames written."""
        boxes = _boxes_by_frame(tracks, self.scale)
        buffer = bytearray(self.frame_bytes)
        view = np.frombuffer(buffer, np.uint8).reshape(self.height * 3 // 2, self.width)
        try:
            self._file.flush()
            self._file.seek(0)
            with VideoWriter(dst, self.width, self.height, rate, preset=_PRESET, crf=_CRF) as writer:
                for index in range(self.frames):
                    if self._file.readinto(buffer) != self.frame_bytes:
                        raise OSError(f"the overlay spool {self.path.name} is short at frame {index}")
                    drawn = boxes.get(index)
                    if drawn:
                        writer.write(_draw(cv2.cvtColor(view, cv2.COLOR_YUV2RGB_I420), drawn))
                    else:
                        writer.write_i420(view)
                return writer.frames_written
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and delete the spool (idempotent)."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


def write_by_decoding(src: Path, dst: Path, info: VideoInfo, tracks: Iterable[Track]) -> int:
    """The same overlay drawn by decoding ``src`` again (for clips too long to spool). Frames written."""
    w, h, scale = overlay_size(info.width, info.height)
    boxes = _boxes_by_frame(tracks, scale)
    with VideoWriter(dst, w, h, info.rate or info.fps, preset=_PRESET, crf=_CRF) as writer:
        for index, frame in enumerate(iter_frames(src)):  # a fresh array per frame: drawn on in place
            writer.write(_draw(_fit(frame, (w, h)), boxes.get(index, ())))
        return writer.frames_written
