"""The dual encoders' losses, exact across processes: InfoNCE (CLIP) and sigmoid (SigLIP).

Notation: N pairs in the global batch, split over W processes, b_r pairs on rank r
(N = Σ_r b_r; a single process is W = 1). x_i, y_j are L2-normalised image and text embeddings,
S_ij = x_i·y_j, t the temperature multiplier (exp of the learned log-temperature), b the bias.
L is the loss a single process would compute on the concatenated batch.

How several processes get L and its gradient exactly
----------------------------------------------------
Each rank gathers the other ranks' embeddings with :func:`torch.distributed.nn.functional.
all_gather`, whose backward pass sends every rank's gradient for a slot back to the slot's owner
and sums it there. Rank r computes only the rows of its own b_r pairs against all N columns and
returns ``ℓ_r = (W/N) · Σ_{i on r} loss_i`` (the per-row losses defined in each function), so that

* (1/W) Σ_r ℓ_r = L: the mean over ranks of the returned values is the single-process loss
  (all-reduce it with AVG to log it);
* the gradient reaching rank r's own embeddings is Σ_q ∂ℓ_q/∂x_r = W · ∂L/∂x_r, since every
  rank's rows contribute through the gathered columns;
* DistributedDataParallel then averages parameter gradients over ranks (sum / W), so every
  parameter gradient, the temperature's and bias's included, equals ∂L/∂θ exactly.

The alternative, gathering without gradient and putting the local tensor back in its slot,
drops the other ranks' contributions to ∂L/∂x_r; it is only exact if every rank computes the
whole N×N loss (W times the work) and multiplies it by W. The autograd gather costs one
all-to-all in the backward pass instead. Local batches may differ in size (the last batch of an
epoch): sizes are exchanged first and the gather pads and trims.

Hard negative texts (NegCLIP)
-----------------------------
Both losses take optional extra texts that are true of no image in the batch: minimally changed
false captions (foils) of the batch's own images, M of them in the global batch (m_r on rank r),
g_k their embeddings. For CLIP they are gathered like the captions and become M more columns of
the image→text softmax (text→image is unchanged: a foil has no image). For SigLIP each foil is
one more negative pair with the image it was made from (``negative_owners``, a local row), a term
of that image's row; nothing more is gathered. The per-row losses change, the argument above
does not: the returned values stay exact across processes.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F


def world_size() -> int:
    """Number of processes in the default group (1 without torch.distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(features: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All ranks' ``features`` concatenated in rank order, and where this rank's rows start.

    The result carries gradient to every rank's local tensor (summed over ranks in backward).
    With a single process it is ``(features, 0)``.
    """
    if world_size() == 1:
        return features, 0
    local = torch.tensor([features.shape[0]], device=features.device)
    sizes = [torch.zeros_like(local) for _ in range(world_size())]
    dist.all_gather(sizes, local)
    counts = [int(size.item()) for size in sizes]
    padded = F.pad(features, (0, 0, 0, max(counts) - features.shape[0]))
    parts = dist_fn.all_gather(padded)
    gathered = torch.cat([part[:count] for part, count in zip(parts, counts, strict=True)])
    return gathered, sum(counts[: dist.get_rank()])


def clip_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    negative_text_embeds: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE over the global batch (CLIP).

    L = (1/2N) Σ_i [−log softmax_j(t·S_ij)_i − log softmax_j(t·S_ji)_i]: image i must pick its
    text among all N texts, and text i its image among all N images. ``image_embeds`` and
    ``text_embeds`` are this rank's (b, D) normalised pairs; ``logit_scale`` is t (not log t).
    ``negative_text_embeds`` (m, D), this rank's hard negatives, add M columns g_k to every image's
    softmax: its term becomes −log [exp(t·S_ii) / (Σ_j exp(t·S_ij) + Σ_k exp(t·x_i·g_k))].
    Returns ℓ_r as stated in the module docstring; with one process, L.
    """
    _check_pairs(image_embeds, text_embeds)
    all_images, offset = gather_with_grad(image_embeds)
    all_texts, _ = gather_with_grad(text_embeds)
    candidates = all_texts
    if negative_text_embeds is not None:
        _check_negatives(text_embeds, negative_text_embeds)
        all_negatives, _ = gather_with_grad(negative_text_embeds)
        candidates = torch.cat([all_texts, all_negatives])
    targets = torch.arange(offset, offset + image_embeds.shape[0], device=image_embeds.device)
    image_to_text = logit_scale * image_embeds @ candidates.T
    text_to_image = logit_scale * text_embeds @ all_images.T
    row_losses = F.cross_entropy(image_to_text, targets, reduction="sum") + F.cross_entropy(
        text_to_image, targets, reduction="sum"
    )
    return row_losses / 2 * (world_size() / all_images.shape[0])


def siglip_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor,
    negative_text_embeds: torch.Tensor | None = None,
    negative_owners: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sigmoid loss over every image–text pair of the global batch (SigLIP).

    L = −(1/N) Σ_i Σ_j log σ(z_ij (t·S_ij + b)), z_ij = +1 for a matched pair and −1 otherwise:
    the paper's normalisation (by the batch size, not by N²), as in big_vision and
    ``transformers``' SiglipModel. Rank r computes its b_r image rows against all N texts; only
    the texts are gathered. (The paper's ring of text chunks computes the same rows block by block
    to save memory at very large N; one gather is simpler at our scale.) ``logit_scale`` is t.
    Hard negatives ``negative_text_embeds`` (m, D), each false of the local image
    ``negative_owners[k]``, add −log σ(−(t·x_i·g_k + b)) to their image's row.
    Returns ℓ_r as stated in the module docstring; with one process, L.
    """
    _check_pairs(image_embeds, text_embeds)
    all_texts, offset = gather_with_grad(text_embeds)
    logits = logit_scale * image_embeds @ all_texts.T + logit_bias
    signs = -torch.ones_like(logits)
    rows = torch.arange(image_embeds.shape[0], device=logits.device)
    signs[rows, rows + offset] = 1.0
    total = -F.logsigmoid(signs * logits).sum()
    if negative_text_embeds is not None:
        _check_negatives(text_embeds, negative_text_embeds)
        if negative_owners is None or negative_owners.shape != negative_text_embeds.shape[:1]:
            raise ValueError("negative_owners: one local image row per hard negative is needed")
        owners = image_embeds[negative_owners]
        negative_logits = logit_scale * (owners * negative_text_embeds).sum(-1) + logit_bias
        total = total - F.logsigmoid(-negative_logits).sum()
    return total * (world_size() / all_texts.shape[0])


def _check_pairs(image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> None:
    if image_embeds.ndim != 2 or image_embeds.shape != text_embeds.shape:
        raise ValueError(
            "expected (B, D) image and text embeddings of one shape, got "
            f"{tuple(image_embeds.shape)} and {tuple(text_embeds.shape)}"
        )


def _check_negatives(text_embeds: torch.Tensor, negative_text_embeds: torch.Tensor) -> None:
    if negative_text_embeds.ndim != 2 or negative_text_embeds.shape[1] != text_embeds.shape[1]:
        raise ValueError(
            f"expected (M, {text_embeds.shape[1]}) hard negative embeddings, "
            f"got {tuple(negative_text_embeds.shape)}"
        )
