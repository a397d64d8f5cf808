"""Connectors: the learnable bridge from a vision tower's tokens to a language model's.

Every connector maps the visual tokens of a batch of images, ``(B, N, vision_dim)``, to tokens
the language model reads, ``(B, M, text_dim)``; ``connector.output_tokens(N)`` gives ``M``.

=================  ==========================================  ==============================
name               design (used by)                            M (visual tokens per image)
=================  ==========================================  ==============================
``linear``         one linear map (LLaVA-1, PaliGemma)         N
``mlp``            linear, GELU, linear (LLaVA-1.5)            N
``resampler``      learned queries, one cross-attention        ``queries`` (default 64)
                   layer, 2-D sine-cosine positions (Qwen-VL)
``c_abstractor``   ResNet blocks, adaptive average pool,       ``grid²`` (default 16)
                   ResNet blocks (Honeybee, MM1)
``pixel_shuffle``  space-to-depth by ``factor``, then linear   N / ``factor²`` (default N/4)
                   (nanoVLM, Idefics3)
=================  ==========================================  ==============================

``resampler``, ``c_abstractor`` and ``pixel_shuffle`` read the N tokens as a square grid.
Build one by name with :func:`build_connector` from a :class:`ConnectorConfig`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from vislang.errors import ConfigError
from vislang.models.connectors.base import Connector
from vislang.models.connectors.c_abstractor import CAbstractorConnector
from vislang.models.connectors.linear import LinearConnector
from vislang.models.connectors.mlp import MLPConnector
from vislang.models.connectors.pixel_shuffle import PixelShuffleConnector
from vislang.models.connectors.resampler import ResamplerConnector

CONNECTORS: dict[str, type[Connector]] = {
    "linear": LinearConnector,
    "mlp": MLPConnector,
    "resampler": ResamplerConnector,
    "c_abstractor": CAbstractorConnector,
    "pixel_shuffle": PixelShuffleConnector,
}
"""Connector classes by name."""

SMALL_GRID_OPTIONS: dict[str, dict[str, Any]] = {
    "linear": {},
    "mlp": {},
    "resampler": {"queries": 16, "local_start": True},
    "c_abstractor": {"grid": 4, "depth": 1},
    "pixel_shuffle": {"factor": 2},
}
"""Options of every connector for a 4×4 grid of patch tokens (the tiny dual encoders: 64-pixel
images, 16-pixel patches): pixel shuffle gives 4 tokens, the others keep 16. The resampler (4
queries) and the C-Abstractor (2×2 grid) compressing to 4 tokens were not read by the language
model within 3,000 steps on the world (docs/vlm.md)."""


@dataclass(frozen=True)
class ConnectorConfig:
    """One connector: its ``kind`` (a key of :data:`CONNECTORS`), the vision tower's and the
    language model's widths, and the connector's own keyword options (e.g. ``{"queries": 16}``
    for the resampler, ``{"factor": 2}`` for pixel shuffle)."""

    kind: str
    vision_dim: int
    text_dim: int
    options: dict[str, Any] = field(default_factory=dict)


def build_connector(config: ConnectorConfig) -> Connector:
    """A freshly initialised connector (seed the global generator first for reproducible
    weights); unknown kinds and options are :class:`ConfigError` listing what is accepted."""
    cls = CONNECTORS.get(config.kind)
    if cls is None:
        raise ConfigError(
            f"unknown connector {config.kind!r} (connectors: {', '.join(CONNECTORS)})"
        )
    accepted = connector_options(config.kind)
    unknown = sorted(set(config.options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{config.kind} connector: unknown option(s) {', '.join(unknown)} "
            f"(options: {', '.join(accepted) or 'none'})"
        )
    return cls(config.vision_dim, config.text_dim, **config.options)


def connector_options(kind: str) -> dict[str, Any]:
    """The keyword options of connector ``kind`` with their defaults."""
    parameters = inspect.signature(CONNECTORS[kind].__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


__all__ = [
    "CONNECTORS",
    "CAbstractorConnector",
    "Connector",
    "ConnectorConfig",
    "LinearConnector",
    "MLPConnector",
    "PixelShuffleConnector",
    "ResamplerConnector",
    "build_connector",
    "connector_options",
]
