"""The batch embedding job: inputs → batches (decoded ahead in threads) → encoder → feature store.

The job is four small roles, each replaceable on its own:

* **inputs**: :class:`~vislang.represent.feature_store.FeatureRow` items saying what to embed —
  :func:`image_folder_inputs`, :func:`dataset_image_inputs`, :func:`dataset_text_inputs`;
* **batches**: :func:`image_batches` decodes and preprocesses images in worker threads, several
  batches ahead, while the encoder works on the current one (Pillow and torch both release the
  GIL, so decoding overlaps the forward pass); :func:`text_batches` groups texts. Inputs that
  cannot be used (corrupt or missing images, empty texts) come out as failures, never as errors;
* **encoder**: any :class:`~vislang.represent.encoder.ImageTextEncoder`, run under
  ``torch.inference_mode``, in float32 (the default) or with bfloat16 matrix products
  (:func:`resolve_precision`), which on a CPU with native bfloat16 halves the forward pass of a
  ViT-B/32 and keeps its embeddings within cosine 0.9999 of float32's;
* **writer**: a :class:`~vislang.represent.feature_store.FeatureWriter`.

:func:`run_embed_job` wires them together with a progress bar and writes ``report.json`` (counts,
throughput and every failure) into the feature store beside its manifest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from vislang.console import progress
from vislang.data.batch import iter_batches
from vislang.data.preprocess import PreprocessConfig
from vislang.data.readers.dataset import Dataset, record_images
from vislang.data.schema import CaptionExample
from vislang.errors import ConfigError
from vislang.represent.encoder import ImageEncoder, ImageTextEncoder
from vislang.represent.feature_store import DEFAULT_SHARD_ROWS, FeatureRow, FeatureWriter

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm"}
)
REPORT_FILE = "report.json"
PRECISIONS = ("auto", "float32", "bfloat16")
"""What ``precision`` of :func:`run_embed_job` accepts; ``auto`` resolves to one of the others."""


@dataclass
class InputBatch:
    """Encoder-ready inputs: ``payload`` is pixels (B, 3, H, W) or a list of B texts described by
    ``rows``; ``failures`` are the (source, reason) of inputs of this stretch that were left out;
    ``consumed`` is how many inputs the batch accounts for (good and failed)."""

    rows: list[FeatureRow]
    payload: torch.Tensor | list[str]
    failures: list[tuple[str, str]]
    consumed: int


@dataclass
class EmbedReport:
    """What an embedding job did: written to ``report.json`` and returned to the caller."""

    out: str
    modality: str
    model: str | None
    encoder: dict[str, Any]
    inputs: int
    embedded: int
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    batch_size: int = 0
    threads: int = 0
    precision: str = "float32"

    @property
    def per_second(self) -> float:
        """Inputs embedded per second of wall-clock time."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "out": self.out,
            "modality": self.modality,
            "model": self.model,
            "encoder": self.encoder,
            "inputs": self.inputs,
            "embedded": self.embedded,
            "failed": len(self.failures),
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 2),
            "batch_size": self.batch_size,
            "threads": self.threads,
            "precision": self.precision,
            "failures": self.failures,
        }


# inputs -------------------------------------------------------------------------------------


def image_folder_inputs(folder: str | Path) -> list[FeatureRow]:
    """One input per image file under ``folder`` (recursively, by suffix, in path order).

    Ids are paths relative to ``folder``; the source is the folder's name.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder of images")
    files = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()
    )
    return [
        FeatureRow(
            id=(relative := path.relative_to(root).as_posix()),
            image_id=relative,
            image=str(path),
            source=root.resolve().name,
        )
        for path in files
    ]


def dataset_image_inputs(dataset: Dataset) -> list[FeatureRow]:
    """One input per distinct image the dataset's records refer to, in first-seen order.

    A caption record's image is identified by its ``image_id``; other images by their path.
    """
    rows: dict[Path, FeatureRow] = {}
    for record in dataset.records:
        for path in record_images(record):
            if path in rows:
                continue
            image_id = record.image_id if isinstance(record, CaptionExample) else str(path)
            rows[path] = FeatureRow(
                id=image_id,
                image_id=image_id,
                image=str(path),
                source=record.source,
                split=getattr(record, "split", None),
            )
    return list(rows.values())


def dataset_text_inputs(dataset: Dataset) -> list[FeatureRow]:
    """One input per caption of the dataset's caption records; ids are ``"<record id>#<n>"``."""
    captions = dataset.of_kind(CaptionExample)
    if not captions:
        kinds = ", ".join(sorted(dataset.kinds())) or "none"
        raise ConfigError(f"{dataset.path}: no caption records to embed (record kinds: {kinds})")
    return [
        FeatureRow(
            id=f"{record.id}#{n}",
            image_id=record.image_id,
            image=None if record.image is None else str(record.image),
            text=caption,
            language=record.language,
            source=record.source,
            split=record.split,
        )
        for record in captions
        for n, caption in enumerate(record.captions)
    ]


# batches ------------------------------------------------------------------------------------


def image_batches(
    rows: Sequence[FeatureRow],
    config: PreprocessConfig,
    *,
    batch_size: int,
    threads: int,
    prefetch: int = 2,
) -> Iterator[InputBatch]:
    """Decode and preprocess the images of ``rows`` in ``threads`` threads, ``prefetch`` batches
    ahead; unreadable images come out as failures."""
    sources = [row.image or "" for row in rows]
    batches = iter_batches(
        sources, config, batch_size=batch_size, threads=threads, prefetch=prefetch
    )
    for batch in batches:
        yield InputBatch(
            rows=[rows[i] for i in batch.indices],
            payload=batch.pixels,
            failures=batch.failures,
            consumed=len(batch.indices) + len(batch.failures),
        )


def text_batches(rows: Sequence[FeatureRow], *, batch_size: int) -> Iterator[InputBatch]:
    """Group the texts of ``rows`` into batches; empty texts come out as failures."""
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        good = [row for row in chunk if row.text and row.text.strip()]
        failures = [(row.id, "empty text") for row in chunk if not (row.text and row.text.strip())]
        yield InputBatch(good, [row.text or "" for row in good], failures, len(chunk))


# encoder ------------------------------------------------------------------------------------


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively (AVX-512 BF16 or AMX), so
    that they run faster than float32 ones rather than being emulated."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str) -> str:
    """``"float32"`` or ``"bfloat16"`` for a requested precision; ``"auto"`` is bfloat16 where the
    CPU computes it natively (:func:`native_bfloat16`), float32 elsewhere."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def encode_batch(
    encoder: ImageEncoder | ImageTextEncoder, batch: InputBatch, precision: str = "float32"
) -> torch.Tensor:
    """The encoder's embeddings of one batch (float32 on the CPU, L2-normalised), without
    autograd.

    With ``precision="bfloat16"`` the encoder runs under CPU autocast (matrix products and
    attention in bfloat16) and its embeddings are normalised again in float32: normalised in
    bfloat16 they would be off unit length by up to half a percent."""
    with (
        torch.inference_mode(),
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"),
    ):
        if isinstance(batch.payload, torch.Tensor):
            embeddings = encoder.encode_images(batch.payload)
        else:
            embeddings = encoder.encode_texts(batch.payload)  # type: ignore[union-attr]
    embeddings = embeddings.float().cpu()
    return F.normalize(embeddings, dim=-1) if precision == "bfloat16" else embeddings


# runner -------------------------------------------------------------------------------------


def run_embed_job(
    encoder: ImageEncoder | ImageTextEncoder,
    rows: Sequence[FeatureRow],
    out_dir: str | Path,
    *,
    modality: str,
    model: str | None = None,
    batch_size: int = 32,
    threads: int = 2,
    prefetch: int = 2,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    overwrite: bool = False,
    earlier_failures: Iterable[tuple[str, str]] = (),
    show_progress: bool = True,
    precision: str = "float32",
) -> EmbedReport:
    """Embed ``rows`` (their images, or their texts for ``modality="text"``) into a new feature
    store at ``out_dir``.

    Inputs that cannot be embedded are skipped and listed (with ``earlier_failures``, e.g. items a
    dataset reader skipped) in the manifest and ``report.json``. ``model`` is the reference the
    encoder was loaded from (a preset name or a directory), recorded so the store's users can load
    the same encoder for queries. ``precision`` is one of :data:`PRECISIONS` (see
    :func:`resolve_precision`); the report says which one ran. An error or interruption leaves no
    partial store behind.
    """
    if modality == "text" and not hasattr(encoder, "encode_texts"):
        raise ConfigError(f"encoder {encoder.name!r} has no text tower; it cannot embed texts")
    if batch_size < 1 or threads < 1:
        raise ConfigError(f"batch size and threads must be at least 1 ({batch_size}, {threads})")
    precision = resolve_precision(precision)
    fingerprint = encoder.fingerprint()
    if modality == "image":
        batches = image_batches(
            rows, encoder.preprocess, batch_size=batch_size, threads=threads, prefetch=prefetch
        )
    else:
        batches = text_batches(rows, batch_size=batch_size)
    failures = [{"source": str(s), "reason": str(r)} for s, r in earlier_failures]
    start = time.perf_counter()
    with (
        FeatureWriter(
            out_dir,
            modality=modality,
            fingerprint=fingerprint,
            dim=encoder.embed_dim,
            model=model,
            shard_rows=shard_rows,
            overwrite=overwrite,
        ) as writer,
        progress(disable=not show_progress) as bar,
    ):
        task = bar.add_task(f"embedding {modality}s", total=len(rows))
        for batch in batches:
            if batch.rows:
                writer.add(encode_batch(encoder, batch, precision).numpy(), batch.rows)
            failures.extend({"source": s, "reason": r} for s, r in batch.failures)
            bar.advance(task, batch.consumed)
        writer.add_failures((f["source"], f["reason"]) for f in failures)
        report = EmbedReport(
            out=str(out_dir),
            modality=modality,
            model=model,
            encoder=fingerprint,
            inputs=len(rows),
            embedded=writer.count,
            failures=failures,
            seconds=time.perf_counter() - start,
            batch_size=batch_size,
            threads=threads,
            precision=precision,
        )
        writer.close(extra_json={REPORT_FILE: report.to_dict()})
    return report
