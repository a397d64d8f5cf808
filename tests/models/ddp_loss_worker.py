"""One rank of the distributed loss check, run by test_contrastive_loss_ddp.py under torchrun.

Each rank builds the same micro dual encoder, wraps it in DistributedDataParallel (gloo, CPU),
runs its slice of a fixed global batch, backpropagates the family's loss and writes what it saw:
its loss value, the gradients reaching its own image/text embeddings, and every parameter
gradient after DDP's averaging. The test compares them with one process on the whole batch.

Usage: python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_loss_worker.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import safetensors.torch
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from vislang.data.preprocess import PreprocessConfig
from vislang.models.dual_encoder import DualEncoder
from vislang.models.registry import load_model

CASES: dict[str, tuple[str, tuple[int, int]]] = {
    "clip-even": ("clip-tiny", (4, 4)),
    "siglip-even": ("siglip-tiny", (4, 4)),
    "clip-uneven": ("clip-tiny", (3, 5)),
    "siglip-uneven": ("siglip-tiny", (3, 5)),
}
"""Case → (preset whose family is tested, local batch size of rank 0 and rank 1)."""

TEXTS = [
    "a red circle",
    "a blue square left of a green triangle",
    "ein gelber Kreis",
    "un carré bleu",
    "一个红色的圆",
    "two small circles",
    "a big purple star",
    "nothing at all",
]


def micro_model(preset: str) -> DualEncoder:
    """The preset's family at a micro size, in float64 so that sums in any order agree."""
    model = load_model(
        preset,
        image_size=16,
        patch_size=8,
        vision_width=16,
        vision_layers=1,
        vision_heads=2,
        vision_mlp_dim=32,
        text_width=16,
        text_layers=1,
        text_heads=2,
        text_mlp_dim=32,
        text_max_length=48,
        embed_dim=16,
        preprocess=PreprocessConfig(resize=16, crop=16),
        seed=7,
    )
    return model.double()


def global_batch(size: int) -> tuple[torch.Tensor, list[str]]:
    """The same pixels and texts on every rank."""
    generator = torch.Generator().manual_seed(11)
    pixels = torch.randn(size, 3, 16, 16, generator=generator, dtype=torch.float64)
    return pixels, TEXTS[:size]


def run_case(module: torch.nn.Module, model: DualEncoder, pixels, texts) -> dict[str, torch.Tensor]:
    """Forward, loss, backward; the loss, embedding gradients and parameter gradients."""
    output = module(pixels, **model.tokenize(texts))
    output.image_embeds.retain_grad()
    output.text_embeds.retain_grad()
    loss = model.loss(output)
    loss.backward()
    result = {
        "loss": loss.detach(),
        "image_embeds_grad": output.image_embeds.grad,
        "text_embeds_grad": output.text_embeds.grad,
    }
    for name, parameter in model.named_parameters():
        result[f"param.{name}"] = parameter.grad
    return {key: value.detach().contiguous() for key, value in result.items()}


def main(out_dir: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for case, (preset, sizes) in CASES.items():
        model = micro_model(preset)
        module = DistributedDataParallel(model)
        pixels, texts = global_batch(sum(sizes))
        start = sum(sizes[:rank])
        stop = start + sizes[rank]
        result = run_case(module, model, pixels[start:stop], texts[start:stop])
        safetensors.torch.save_file(result, out_dir / f"{case}.rank{rank}.safetensors")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
