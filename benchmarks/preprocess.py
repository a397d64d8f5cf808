"""Image loading and CLIP preprocessing: vislang's batch loader against transformers.

Both sides read the same files, batch by batch, and produce float32 (N, 3, 224, 224) tensors:

- vislang: ``load_batch`` (``--threads`` worker threads, default 2) on each batch of
  ``--batch-size`` (default 32) paths;
- baseline: ``transformers.CLIPImageProcessor``, one call per batch on the PIL images decoded with
  ``PIL.Image.open(path).convert("RGB")``.

The folder is walked ``--passes`` times (after one untimed warm-up pass), alternating the two sides
so that both see the same machine load. Prints images/s for both, the speed ratio, the rate of
decoding alone (the floor both share), the CPU time each spends per image (a check on the ratio
when other processes share the cores), and the mean absolute difference between the two outputs.
Target: ratio >= 3 with 2 threads.

    python benchmarks/preprocess.py                      # the coco-mini photographs
    python benchmarks/preprocess.py path/to/images --passes 10
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image

from vislang.console import log
from vislang.data.batch import load_batch
from vislang.data.preprocess import PreprocessConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def default_folder() -> Path:
    """The coco-mini photographs next to the repository (or under ``VISLANG_SHARED_DATA``)."""
    shared = os.environ.get("VISLANG_SHARED_DATA")
    data = Path(shared) if shared else REPO_ROOT.parent / "shared" / "data"
    return data / "coco-mini"


def image_files(folder: Path) -> list[Path]:
    """Every image file under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def batches(files: list[Path], size: int) -> list[list[Path]]:
    return [files[i : i + size] for i in range(0, len(files), size)]


def run_vislang(
    groups: list[list[Path]], config: PreprocessConfig, threads: int, keep: bool = False
) -> list[torch.Tensor]:
    """Every batch through ``load_batch``; the tensors are kept only if asked (an embedding job
    drops each batch after its forward pass, so its memory is reused)."""
    outputs = []
    for group in groups:
        batch = load_batch(group, config, threads=threads)
        if batch.failures:
            raise SystemExit(f"vislang could not read: {batch.failures}")
        if keep:
            outputs.append(batch.pixels)
    return outputs


def run_transformers(
    groups: list[list[Path]], processor: transformers.BaseImageProcessor, keep: bool = False
) -> list[torch.Tensor]:
    """Every batch through ``CLIPImageProcessor``, one call per batch of decoded PIL images."""
    outputs = []
    for group in groups:
        images = [Image.open(path).convert("RGB") for path in group]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        if keep:
            outputs.append(pixels)
    return outputs


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process) taken by ``run``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=None, help="folder of images")
    parser.add_argument("--passes", type=int, default=5, help="timed passes over the folder")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="vislang worker threads")
    args = parser.parse_args()

    folder = args.folder or default_folder()
    if not folder.is_dir():
        sys.exit(
            f"error: image folder {folder} not found. Pass a folder of images, e.g. "
            "python benchmarks/preprocess.py ../shared/data/coco-mini"
        )
    files = image_files(folder)
    if not files:
        sys.exit(f"error: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}")

    config = PreprocessConfig()
    # Without torchvision (as here) CLIPImageProcessor resolves to its PIL backend; the class name
    # printed below says which one ran. Its note about the fallback is silenced.
    transformers.logging.set_verbosity_error()
    processor = transformers.CLIPImageProcessor()
    groups = batches(files, args.batch_size)

    # Warm-up: file cache, lazy imports, thread start-up; also the outputs compared below.
    ours = torch.cat(run_vislang(groups, config, args.threads, keep=True))
    theirs = torch.cat(run_transformers(groups, processor, keep=True))
    difference = (ours - theirs).abs().mean(dim=(1, 2, 3)).numpy()

    # No live progress bar while timing (its refresh thread would compete for the GIL with the
    # decoding threads): one line per pass instead, printed between the timed sections.
    vislang_wall = vislang_cpu = transformers_wall = transformers_cpu = 0.0
    for done in range(1, args.passes + 1):
        wall, cpu = timed(lambda: run_vislang(groups, config, args.threads))
        vislang_wall, vislang_cpu = vislang_wall + wall, vislang_cpu + cpu
        ours_rate = len(files) / wall
        wall, cpu = timed(lambda: run_transformers(groups, processor))
        transformers_wall, transformers_cpu = transformers_wall + wall, transformers_cpu + cpu
        theirs_rate = len(files) / wall
        log(f"pass {done}/{args.passes}: {ours_rate:.0f} vs {theirs_rate:.0f} images/s")

    # The floor both sides share: decoding alone, one thread.
    decode_wall, _ = timed(lambda: [Image.open(path).convert("RGB") for path in files])

    count = len(files) * args.passes
    vislang_rate, transformers_rate = count / vislang_wall, count / transformers_wall
    baseline = f"transformers {transformers.__version__} {type(processor).__name__}"
    print(
        f"images: {len(files)} files from {folder} × {args.passes} passes, batches of "
        f"{args.batch_size}, output {tuple(ours.shape[1:])}"
    )
    print(f"vislang load_batch ({args.threads} threads): {vislang_rate:8.1f} images/s")
    print(f"{baseline} (1 thread): {transformers_rate:8.1f} images/s")
    print(f"ratio: {vislang_rate / transformers_rate:.2f}× (target >= 3×)")
    print(f"decoding alone (PIL, 1 thread): {len(files) / decode_wall:8.1f} images/s")
    print(
        f"CPU time per image: vislang {1000 * vislang_cpu / count:.2f} ms (all threads), "
        f"transformers {1000 * transformers_cpu / count:.2f} ms; "
        f"CPU-time ratio {transformers_cpu / vislang_cpu:.2f}×"
    )
    print(
        f"mean abs difference: {float(np.mean(difference)):.5f} "
        f"(worst image {float(np.max(difference)):.5f}; tolerance 0.02)"
    )


if __name__ == "__main__":
    main()
