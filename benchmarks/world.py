"""World generation speed: scenes per second at 64×64 with every task, on one core.

Measures, in one run and one process pinned to one CPU:

* ``write``: ``write_world`` end to end into a temporary folder (7 languages, every task: captions,
  VQA, pair statements, foils, Winoground, sequences, attribute norms; PNG images and scene files;
  checksums). This is the number compared with the target of 500 scenes/s.
* ``records``: generating the records in memory (``World.items``), no rendering, no disk;
* ``render``: drawing and PNG-encoding the images of those items;
* ``serialise``: the writer's JSON lines against the baseline ``json.dumps(to_dict(record))``.

Rates are given per wall-clock second and per CPU second of this process (the CPU rate is the
one to read on a machine shared with other work).

    python benchmarks/world.py                # 2,000 scenes
    python benchmarks/world.py --scenes 500   # quicker
    python benchmarks/world.py --dir /dev/shm # write to memory (no disk in the measurement)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vislang.data.schema import to_dict
from vislang.data.world import World, WorldConfig, write_world
from vislang.data.world.render import png_bytes, render_scene
from vislang.data.world.writer import record_line

TARGET = 500.0  # scenes per second


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) spent in ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dir",
        default=".",
        help="Where to write the temporary world (file creation speed "
        "differs a lot between file systems; default: the current folder).",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    config = WorldConfig(scenes=args.scenes, seed=args.seed, image_size=64)
    World(config).item(0)  # warm the texture bank and the grammars' imports

    with tempfile.TemporaryDirectory(prefix=".world-benchmark-", dir=args.dir) as tmp:
        write_wall, write_cpu = timed(lambda: write_world(config, Path(tmp) / "world"))

    world = World(config)
    items: list = []
    records_wall, records_cpu = timed(lambda: items.extend(world.items()))
    scenes = [scene for item in items for scene in item.scenes.values()]
    render_wall, render_cpu = timed(lambda: [png_bytes(render_scene(s, 64)) for s in scenes])
    records = [r for item in items for rs in item.records.values() for r in rs]
    _, ours_cpu = timed(lambda: [record_line(r) for r in records])
    _, base_cpu = timed(
        lambda: [json.dumps(to_dict(r, base=Path(args.dir)), ensure_ascii=False) for r in records]
    )

    n = args.scenes
    print(f"world: {n} scenes, 64x64, languages {','.join(config.languages)}, all tasks, 1 core")
    print(f"  {len(records) / n:.1f} records and {len(scenes) / n:.2f} images per scene")
    print(
        f"  write (end to end):  {n / write_wall:7.1f} scenes/s wall, {n / write_cpu:7.1f} "
        f"scenes/s CPU  -> {n / write_cpu / TARGET:.2f}x the target of {TARGET:.0f}"
    )
    print(
        f"  records in memory:   {n / records_wall:7.1f} scenes/s wall, "
        f"{n / records_cpu:7.1f} scenes/s CPU"
    )
    print(
        f"  render + PNG:        {len(scenes) / render_wall:7.1f} images/s wall, "
        f"{len(scenes) / render_cpu:7.1f} images/s CPU"
    )
    print(
        f"  JSON lines: {len(records) / ours_cpu:,.0f} records/s CPU vs baseline "
        f"json.dumps(to_dict()) {len(records) / base_cpu:,.0f} -> "
        f"{base_cpu / ours_cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
