"""The InfoNCE and sigmoid losses against hand computations and against transformers' own."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vislang.models.contrastive_loss import clip_loss, gather_with_grad, siglip_loss
from vislang.models.registry import load_model


def _pairs(count: int = 5, dim: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = F.normalize(torch.randn(count, dim, generator=generator, dtype=torch.float64), dim=-1)
    texts = F.normalize(torch.randn(count, dim, generator=generator, dtype=torch.float64), dim=-1)
    return images.requires_grad_(), texts.requires_grad_()


def _naive_clip(images: torch.Tensor, texts: torch.Tensor, scale: float) -> float:
    """InfoNCE written out pair by pair, in Python floats."""
    count = len(images)
    images, texts = images.detach(), texts.detach()
    sim = [[float(images[i] @ texts[j]) for j in range(count)] for i in range(count)]
    total = 0.0
    for i in range(count):
        image_to_text = sum(math.exp(scale * sim[i][j]) for j in range(count))
        text_to_image = sum(math.exp(scale * sim[j][i]) for j in range(count))
        total -= math.log(math.exp(scale * sim[i][i]) / image_to_text)
        total -= math.log(math.exp(scale * sim[i][i]) / text_to_image)
    return total / (2 * count)


def _naive_siglip(images: torch.Tensor, texts: torch.Tensor, scale: float, bias: float) -> float:
    """The sigmoid loss written out pair by pair, in Python floats."""
    count = len(images)
    images, texts = images.detach(), texts.detach()
    total = 0.0
    for i in range(count):
        for j in range(count):
            label = 1.0 if i == j else -1.0
            logit = scale * float(images[i] @ texts[j]) + bias
            total -= math.log(1.0 / (1.0 + math.exp(-label * logit)))
    return total / count


def test_clip_loss_value_and_gradients_match_the_hand_computation() -> None:
    images, texts = _pairs()
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    loss = clip_loss(images, texts, log_scale.exp())
    loss.backward()
    scale = log_scale.exp().item()
    assert loss.item() == pytest.approx(_naive_clip(images, texts, scale), rel=1e-12)

    # By hand: with P = softmax_rows(tS) and Q = softmax_rows(tSᵀ),
    # ∂L/∂S = t/(2N)·[(P − I) + (Q − I)ᵀ] and ∂L/∂t = (1/2N)·Σ_i [Σ_j P_ij S_ij − S_ii
    # + Σ_j Q_ij S_ji − S_ii]; the log-temperature s = log t gets t·∂L/∂t.
    with torch.no_grad():
        count = len(images)
        sim = images @ texts.T
        p, q, eye = (scale * sim).softmax(1), (scale * sim.T).softmax(1), torch.eye(count)
        d_sim = scale / (2 * count) * ((p - eye) + (q - eye).T)
        d_scale = ((p * sim).sum() - sim.trace() + (q * sim.T).sum() - sim.trace()) / (2 * count)
    torch.testing.assert_close(images.grad, d_sim @ texts.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(texts.grad, d_sim.T @ images.detach(), rtol=1e-10, atol=1e-12)
    assert log_scale.grad.item() == pytest.approx(scale * d_scale.item(), rel=1e-10)


def test_siglip_loss_value_and_gradients_match_the_hand_computation() -> None:
    images, texts = _pairs(count=6, seed=1)
    log_scale = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-10.0, dtype=torch.float64, requires_grad=True)
    loss = siglip_loss(images, texts, log_scale.exp(), bias)
    loss.backward()
    scale = log_scale.exp().item()
    assert loss.item() == pytest.approx(_naive_siglip(images, texts, scale, -10.0), rel=1e-12)

    # By hand: with z = 2I − 1 and l = tS + b, ∂L/∂l = −(1/N)·z·σ(−z·l); then ∂L/∂b = Σ ∂L/∂l,
    # ∂L/∂t = Σ ∂L/∂l · S and ∂L/∂S = t·∂L/∂l.
    with torch.no_grad():
        count = len(images)
        sim = images @ texts.T
        signs = 2 * torch.eye(count, dtype=torch.float64) - 1
        d_logits = -signs * torch.sigmoid(-signs * (scale * sim - 10.0)) / count
        d_sim = scale * d_logits
    torch.testing.assert_close(images.grad, d_sim @ texts.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(texts.grad, d_sim.T @ images.detach(), rtol=1e-10, atol=1e-12)
    assert bias.grad.item() == pytest.approx(d_logits.sum().item(), rel=1e-10)
    assert log_scale.grad.item() == pytest.approx(scale * (d_logits * sim).sum().item(), rel=1e-10)


def test_losses_single_process_gather_is_the_identity() -> None:
    features = torch.randn(3, 2)
    gathered, offset = gather_with_grad(features)
    assert gathered is features and offset == 0


@pytest.mark.parametrize("name", ["clip-tiny", "siglip-tiny"])
def test_losses_equal_transformers_own_on_a_model_batch(name: str) -> None:
    """The loss of our forward output equals transformers' CLIPModel/SiglipModel loss."""
    model = load_model(name, seed=1)
    pixels = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    tokens = model.tokenize(["a red circle", "a blue square", "ein Kreis", "一个圆"])
    ours = model.loss(model(pixels, **tokens))
    theirs = model.backbone(pixel_values=pixels, return_loss=True, **tokens).loss
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_losses_refuse_mismatched_pairs() -> None:
    images, texts = _pairs(count=4)
    with pytest.raises(ValueError, match=r"\(4, 4\) and \(3, 4\)"):
        clip_loss(images, texts[:3], torch.tensor(1.0))
    with pytest.raises(ValueError, match="image and text embeddings of one shape"):
        siglip_loss(images[0], texts[0], torch.tensor(1.0), torch.tensor(0.0))
