"""A scheduling model for the ``osmo`` double: pool GPU capacity, gang scheduling of groups,
a FIFO queue with backfill, and a simulated clock, so a many-batch run finishes in seconds.

The rules follow OSMO 6.3.1 (``src/utils/job/task.py`` statuses, the user guide's gang scheduling):
a group is WAITING while a group it takes inputs from has not COMPLETED, then SCHEDULING (queued)
until the pool can place *all* of its tasks at once, then RUNNING; a workflow is PENDING until one
of its groups is placed, RUNNING while any is, COMPLETED when all are, FAILED when one fails (the
groups downstream of it never start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skill.render import RenderedSpec

__all__ = ["GangScheduler", "GroupShape", "shape_of"]


@dataclass(frozen=True)
class GroupShape:
    name: str
    gpus: tuple[int, ...]
    """GPUs of each task of the group."""
    after: tuple[str, ...] = ()
    """Groups whose task outputs this group reads."""


def shape_of(spec: RenderedSpec) -> list[GroupShape]:
    """The groups of a rendered spec with each task's GPUs (from its resource) and its upstream groups."""
    shapes = []
    for group in spec.groups:
        gpus = tuple(int((spec.resources.get(t.resource) or {}).get("gpu", 0) or 0) for t in group.tasks)
        upstream = {spec.group_of(i.task).name for t in group.tasks for i in t.inputs if i.task} - {group.name}
        shapes.append(GroupShape(group.name, gpus, tuple(sorted(upstream))))
    return shapes


@dataclass
class _Group:
    shape: GroupShape
    duration_s: float
    fail: bool
    status: str = "WAITING"
    ends_at: float | None = None


@dataclass
class _Workflow:
    wid: str
    groups: list[_Group]
    submitted_at: float
    history: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        states = [g.status for g in self.groups]
        if any(s.startswith("FAILED") for s in states):
            return "FAILED" if not any(s == "RUNNING" for s in states) else "RUNNING"
        if all(s == "COMPLETED" for s in states):
            return "COMPLETED"
        if any(s in ("RUNNING", "COMPLETED") for s in states):
            return "RUNNING"
        return "PENDING"


class GangScheduler:
    """One pool of ``gpus`` GPUs. ``tick(dt)`` advances the simulated clock."""

    def __init__(self, gpus: int) -> None:
        self.capacity = gpus
        self.now = 0.0
        self.placed_gpus = 0
        self.peak_gpus = 0
        self.workflows: dict[str, _Workflow] = {}
        self._queue: list[tuple[str, int]] = []  # (workflow id, group index), in the order they became ready

    def submit(self, groups: list[GroupShape], *, duration_s: float = 60.0, fail_group: str | None = None) -> str:
        wid = f"vda-{len(self.workflows) + 1}"
        self.workflows[wid] = _Workflow(wid, [_Group(g, duration_s, g.name == fail_group) for g in groups], self.now)
        self._advance(self.workflows[wid])
        self._place()
        return wid

    def status(self, wid: str) -> str:
        return self.workflows[wid].status

    def group_statuses(self, wid: str) -> dict[str, str]:
        return {g.shape.name: g.status for g in self.workflows[wid].groups}

    def free_gpus(self) -> int:
        return self.capacity - self.placed_gpus

    def tick(self, dt: float = 30.0) -> None:
        self.now += dt
        for wf in self.workflows.values():
            for group in wf.groups:
                if group.status == "RUNNING" and group.ends_at is not None and group.ends_at <= self.now:
                    group.status = "FAILED" if group.fail else "COMPLETED"
                    self.placed_gpus -= sum(group.shape.gpus)
            self._advance(wf)
        self._place()

    # --- internals ------------------------------------------------------------------------
    def _advance(self, wf: _Workflow) -> None:
        """WAITING groups whose upstream all COMPLETED join the queue (none do after a failure)."""
        done = {g.shape.name for g in wf.groups if g.status == "COMPLETED"}
        failed = any(g.status.startswith("FAILED") for g in wf.groups)
        for index, group in enumerate(wf.groups):
            if group.status == "WAITING" and not failed and set(group.shape.after) <= done:
                group.status = "SCHEDULING"
                self._queue.append((wf.wid, index))

    def _place(self) -> None:
        """Gang placement in queue order; a group that does not fit waits while smaller ones behind it may start."""
        waiting = []
        for wid, index in self._queue:
            group = self.workflows[wid].groups[index]
            need = sum(group.shape.gpus)
            if need <= self.capacity - self.placed_gpus:
                group.status, group.ends_at = "RUNNING", self.now + group.duration_s
                self.placed_gpus += need
                self.peak_gpus = max(self.peak_gpus, self.placed_gpus)
            else:
                waiting.append((wid, index))
        self._queue = waiting
