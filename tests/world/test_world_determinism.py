"""Same seed and config, byte-identical world; another seed, another world."""

from __future__ import annotations

from pathlib import Path

from vislang.data.world import World, WorldConfig, verify_world, write_world

CONFIG = WorldConfig(scenes=40, seed=5, nlvr=True, split="compositional")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_two_generations_are_byte_identical(tmp_path: Path) -> None:
    first = write_world(CONFIG, tmp_path / "a")
    second = write_world(CONFIG, tmp_path / "b")
    assert first["checksums"] == second["checksums"]
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert verify_world(tmp_path / "a") == []


def test_several_processes_give_the_same_bytes(tmp_path: Path) -> None:
    write_world(CONFIG, tmp_path / "one")
    write_world(CONFIG, tmp_path / "two", workers=2)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_another_seed_gives_another_world(tmp_path: Path) -> None:
    first = write_world(CONFIG, tmp_path / "a")
    other = write_world(CONFIG.replace(seed=6), tmp_path / "b")
    assert first["checksums"]["tasks/captions.jsonl"] != other["checksums"]["tasks/captions.jsonl"]


def test_random_access_equals_iteration() -> None:
    world = World(CONFIG)
    items = list(world.items())
    again = World(CONFIG)
    for index in (0, 17, 39):
        item = again.item(index)
        assert item.scene == items[index].scene
        assert item.records == items[index].records


def test_verify_detects_a_changed_file(tmp_path: Path) -> None:
    write_world(CONFIG, tmp_path / "w")
    (tmp_path / "w" / "tasks" / "vqa.jsonl").write_text("{}\n", encoding="utf-8")
    assert verify_world(tmp_path / "w") == ["tasks/vqa.jsonl"]
