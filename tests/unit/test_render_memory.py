"""A remembered render is answered only while every file it read reads the same."""

from __future__ import annotations

from pathlib import Path

from skill.render_memory import RenderMemory, render_key


def test_recall_holds_while_the_files_read_the_same(tmp_path: Path) -> None:
    staged, absent = tmp_path / "staged.sh", tmp_path / "absent.sh"
    staged.write_text("echo one\n", encoding="utf-8")
    memory: RenderMemory[str] = RenderMemory()
    key = render_key("workflow: {}", ["a=1"], None, "wf", str(tmp_path / "wf.yaml"))
    memory.keep(key, "spec", [(staged, "echo one\n"), (absent, None)])
    assert memory.recall(key) == "spec"
    assert memory.recall(render_key("workflow: {}", ["a=2"], None, "wf", str(tmp_path / "wf.yaml"))) is None
    staged.write_text("echo two\n", encoding="utf-8")
    assert memory.recall(key) is None  # an edited file
    staged.write_text("echo one\n", encoding="utf-8")
    absent.write_text("now here\n", encoding="utf-8")
    assert memory.recall(key) is None  # a file found missing appeared
    absent.unlink()
    staged.unlink()
    assert memory.recall(key) is None  # a file read is gone


def test_only_the_last_renders_are_kept_and_odd_values_are_not_remembered() -> None:
    memory: RenderMemory[int] = RenderMemory(kept=2)
    keys = [render_key(f"w{i}", None, None, "wf", "/x/wf.yaml") for i in range(3)]
    for i, key in enumerate(keys):
        memory.keep(key, i, [])
    assert [memory.recall(k) for k in keys] == [None, 1, 2]
    assert render_key("w", {"a": object()}, None, "wf", None) is None
    memory.keep(None, 9, [])
    assert memory.recall(None) is None
