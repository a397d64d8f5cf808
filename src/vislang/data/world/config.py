"""The configuration of a generated world: its scenes, languages, tasks and splits.

A :class:`WorldConfig` plus its ``seed`` determines the world completely: the same config gives the
same scenes, texts and (on the same Pillow/zlib build) the same bytes on disk.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vislang.data.world.concepts import COLOURS, SHAPES, Compound
from vislang.errors import ConfigError

DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "de", "tr", "zh", "sw", "id", "ta")
SPLIT_MODES: tuple[str, ...] = ("iid", "compositional")


@dataclass(frozen=True)
class WorldConfig:
    """Everything that shapes a generated world (the seed included).

    Split fractions are of the scenes that are not in ``test_comp``: by default 80% train,
    10% val, 10% test. In compositional mode ``test_comp_fraction`` of all scenes (default 15%)
    are built to contain at least one held-out compound and form the extra ``test_comp`` split.
    """

    scenes: int = 1000
    seed: int = 0
    image_size: int = 64
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    min_objects: int = 1
    max_objects: int = 4
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = COLOURS
    texture: bool = True
    jitter: bool = True
    captions_per_image: int = 5
    questions_per_image: int = 5
    statements_per_image: int = 2
    foils_per_image: int = 2
    winoground_rate: float = 0.25
    sequence_rate: float = 0.25
    split: str = "iid"
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    test_comp_fraction: float = 0.15
    held_out_compounds: tuple[Compound, ...] | None = None
    held_out_count: int = 4
    nlvr: bool = False

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        from vislang.data.world.languages import LANGUAGES

        if self.scenes < 1:
            raise ConfigError(f"scenes must be at least 1, got {self.scenes}")
        if not 16 <= self.image_size <= 1024:
            raise ConfigError(f"image_size must be between 16 and 1024, got {self.image_size}")
        unknown = [code for code in self.languages if code not in LANGUAGES]
        if unknown or not self.languages:
            raise ConfigError(
                f"unknown language(s) {unknown or '(none given)'}; known: {', '.join(LANGUAGES)}"
            )
        if len(set(self.languages)) != len(self.languages):
            raise ConfigError(f"languages listed twice: {list(self.languages)}")
        if not 1 <= self.min_objects <= self.max_objects <= 6:
            raise ConfigError(
                "need 1 <= min_objects <= max_objects <= 6, got "
                f"{self.min_objects}..{self.max_objects}"
            )
        for name, values, known in (
            ("shapes", self.shapes, SHAPES),
            ("colours", self.colours, COLOURS),
        ):
            bad = [v for v in values if v not in known]
            if bad or len(values) < 3 or len(set(values)) != len(values):
                raise ConfigError(
                    f"{name} must be at least 3 distinct values of {list(known)}, "
                    f"got {list(values)}"
                )
        if self.split not in SPLIT_MODES:
            raise ConfigError(f"split must be one of {SPLIT_MODES}, got {self.split!r}")
        fractions = self.split_fractions
        if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
            raise ConfigError(f"split_fractions must be 3 numbers >= 0 summing to 1: {fractions}")
        for name in ("winoground_rate", "sequence_rate", "test_comp_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {value}")
        for name in (
            "captions_per_image",
            "questions_per_image",
            "statements_per_image",
            "foils_per_image",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.held_out_compounds is not None:
            self._check_held_out(self.held_out_compounds)
        limit = min(len(self.shapes), len(self.colours))
        if self.split == "compositional" and not 1 <= self.held_out_count <= limit:
            raise ConfigError(
                f"held_out_count must be between 1 and {limit}, got {self.held_out_count}"
            )

    def _check_held_out(self, compounds: tuple[Compound, ...]) -> None:
        held = set(compounds)
        for colour, shape in held:
            if colour not in self.colours or shape not in self.shapes:
                raise ConfigError(
                    f"held-out compound ({colour!r}, {shape!r}) is not in the world's "
                    "colours and shapes"
                )
        for colour in self.colours:
            if all((colour, shape) in held for shape in self.shapes):
                raise ConfigError(f"holding out every shape of {colour!r} removes the colour")
        for shape in self.shapes:
            if all((colour, shape) in held for colour in self.colours):
                raise ConfigError(f"holding out every colour of {shape!r} removes the shape")

    def replace(self, **changes: Any) -> WorldConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, in declaration order (for the manifest)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "held_out_compounds" and value is not None:
                value = [list(c) for c in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        """Rebuild a config from :meth:`to_dict` output (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown world config field(s): {unknown}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "held_out_compounds" and value is not None:
                value = tuple((str(c), str(s)) for c, s in value)
            elif isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)
