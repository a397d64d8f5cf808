"""Generating the world in memory: scenes and the records of every task, scene by scene.

:class:`World` gives random access by scene index (``world.item(i)``) and iteration
(``world.items()``); each :class:`WorldItem` holds the scene, the derived scenes its records refer
to (Winoground pairs, sequence steps), NLVR layouts, and the records per task file. Everything
about scene ``i`` depends only on the config (seed included) and ``i``: each task draws from its
own random stream, so scenes can be generated in any order or in parallel with the same result.

Records refer to images by relative path (``images/<image id>.png``); render them with
:func:`vislang.data.world.render.render_scene` (or :func:`~vislang.data.world.nlvr.render_nlvr`),
or write the whole world with :func:`vislang.data.world.writer.write_world`.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vislang.data.schema import (
    AttributeNorms,
    CaptionExample,
    FoilExample,
    Record,
    SequenceExample,
    StatementExample,
    Step,
    VQAExample,
    WinogroundExample,
)
from vislang.data.world import frames as f
from vislang.data.world.attributes import ConceptImages, attribute_norms
from vislang.data.world.captions import caption_frames
from vislang.data.world.config import WorldConfig
from vislang.data.world.foils import foil_frames
from vislang.data.world.languages import grammar
from vislang.data.world.nlvr import StructuredRep, box_statement_frames, sample_structured_rep
from vislang.data.world.questions import question_frames
from vislang.data.world.scene import Scene, sample_scene
from vislang.data.world.sequences import sequence_plan
from vislang.data.world.splits import SplitPlan, derived_rng, plan_splits
from vislang.data.world.statements import pair_statement_frames
from vislang.data.world.winoground import same_words, winoground_pair

SOURCE = "vislang-world"
TASK_FILES: tuple[str, ...] = (
    "captions",
    "vqa",
    "statements",
    "foils",
    "winoground",
    "sequences",
    "attributes",
)
IMAGE_DIR = Path("images")
_RECENT_SCENES = 64
_CACHED_FRAMES = 100_000
_WINOGROUND_TAGS = {"object_swap": "Object", "attribute_swap": "Relation"}


@lru_cache(maxsize=4096)
def image_path(image_id: str) -> Path:
    """The relative path records use for image ``image_id``."""
    return IMAGE_DIR / f"{image_id}.png"


@dataclass
class WorldItem:
    """One scene with everything derived from it."""

    index: int
    split: str
    scene: Scene
    scenes: dict[str, Scene] = field(default_factory=dict)
    nlvr: dict[str, StructuredRep] = field(default_factory=dict)
    records: dict[str, list[Record]] = field(default_factory=dict)


def _answer_type(value: object) -> str:
    if isinstance(value, bool):
        return "yes/no"
    return "number" if isinstance(value, int) else "other"


class World:
    """A generated world: random access to scenes and their task records by index."""

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        self.plan: SplitPlan = plan_splits(config)
        self._id_width = max(6, len(str(config.scenes - 1)))
        self._grammars = [grammar(code) for code in config.languages]
        self._texts: dict[f.Frame, tuple[str, ...]] = {}
        self._recent: OrderedDict[int, Scene] = OrderedDict()  # partners are sampled twice

    def say(self, frame: f.Frame) -> tuple[str, ...]:
        """``frame`` realised in each of the world's languages (in ``config.languages`` order)."""
        texts = self._texts.get(frame)
        if texts is None:
            texts = tuple(g.realise(frame) for g in self._grammars)
            if len(self._texts) >= _CACHED_FRAMES:
                self._texts.clear()
            self._texts[frame] = texts
        return texts

    def scene_id(self, index: int) -> str:
        """The id of scene ``index`` ("s000042")."""
        return f"s{index:0{self._id_width}d}"

    def split_of(self, index: int) -> str:
        """The split of scene ``index``."""
        return self.plan.split_of(index)

    def scene(self, index: int) -> Scene:
        """Scene ``index`` (a test_comp scene contains at least one held-out compound)."""
        scene = self._recent.get(index)
        if scene is None:
            scene = self._sample(index)
            self._recent[index] = scene
            if len(self._recent) > _RECENT_SCENES:
                self._recent.popitem(last=False)
        return scene

    def _sample(self, index: int) -> Scene:
        split = self.split_of(index)
        rng = derived_rng(self.config.seed, index, "scene")
        required = rng.choice(self.plan.held_out) if split == "test_comp" else None
        return sample_scene(
            rng,
            self.config,
            self.scene_id(index),
            forbidden=self.plan.forbidden(split),
            required=required,
        )

    def partner(self, index: int) -> int | None:
        """The next scene of the same split (wrapping around), the right image of pair
        statements; ``None`` when the split has no other scene."""
        split = self.split_of(index)
        for step in range(1, self.config.scenes):
            other = (index + step) % self.config.scenes
            if self.split_of(other) == split:
                return other
        return None

    def items(self, start: int = 0, stop: int | None = None) -> Iterator[WorldItem]:
        """Items ``start`` .. ``stop - 1`` (default: all scenes) in order."""
        for index in range(start, self.config.scenes if stop is None else stop):
            yield self.item(index)

    def item(self, index: int) -> WorldItem:
        """Scene ``index`` and the records of every task derived from it."""
        scene = self.scene(index)
        split = self.split_of(index)
        item = WorldItem(index, split, scene, scenes={scene.id: scene})
        item.records = {
            "captions": self._captions(item),
            "vqa": self._vqa(item),
            "statements": self._statements(item),
            "foils": self._foils(item),
            "winoground": self._winoground(item),
            "sequences": self._sequences(item),
        }
        return item

    def attribute_norms(self, images: ConceptImages | None = None) -> list[AttributeNorms]:
        """One attribute-norms record per language (see :mod:`.attributes`)."""
        return [
            attribute_norms(language, self.config.colours, self.config.shapes, images)
            for language in self.config.languages
        ]

    # --- one method per task ----------------------------------------------------------------

    def _rng(self, item: WorldItem, purpose: str) -> random.Random:
        return derived_rng(self.config.seed, item.index, purpose)

    def _captions(self, item: WorldItem) -> list[Record]:
        chosen = caption_frames(
            item.scene, self._rng(item, "captions"), self.config.captions_per_image
        )
        if not chosen:
            return []
        kinds = [kind for kind, _ in chosen]
        texts = [self.say(frame) for _, frame in chosen]
        return [
            CaptionExample(
                id=f"{item.scene.id}-{language}",
                image_id=item.scene.id,
                image=image_path(item.scene.id),
                captions=tuple(t[i] for t in texts),
                language=language,
                source=SOURCE,
                split=item.split,
                meta={"caption_kinds": kinds},
            )
            for i, language in enumerate(self.config.languages)
        ]

    def _vqa(self, item: WorldItem) -> list[Record]:
        forbidden = self.plan.forbidden(item.split)
        chosen = question_frames(
            item.scene,
            self._rng(item, "vqa"),
            self.config,
            forbidden,
            self.config.questions_per_image,
        )
        records: list[Record] = []
        for k, (question_type, frame) in enumerate(chosen):
            value = f.answer(frame, item.scene)
            questions = self.say(frame)
            for i, language in enumerate(self.config.languages):
                records.append(
                    VQAExample(
                        id=f"{item.scene.id}-q{k}-{language}",
                        image=image_path(item.scene.id),
                        question=questions[i],
                        answers=(self._grammars[i].answer(frame, value),) * 10,
                        language=language,
                        source=SOURCE,
                        split=item.split,
                        question_type=question_type,
                        answer_type=_answer_type(value),
                        meta={"question_id": f"{item.scene.id}-q{k}"},
                    )
                )
        return records

    def _statements(self, item: WorldItem) -> list[Record]:
        forbidden = self.plan.forbidden(item.split)
        records: list[Record] = []
        partner = self.partner(item.index)
        if partner is not None:
            right = self.scene(partner)
            chosen = pair_statement_frames(
                item.scene,
                right,
                self._rng(item, "statements"),
                self.config,
                forbidden,
                self.config.statements_per_image,
            )
            images = (image_path(item.scene.id), image_path(right.id))
            for k, (frame, label) in enumerate(chosen):
                records += self._statement_records(
                    item, f"{item.scene.id}-p{k}", images, frame, label, {"layout": "pair"}
                )
        if self.config.nlvr:
            rng = self._rng(item, "nlvr")
            rep = sample_structured_rep(rng, forbidden)
            nlvr_id = f"{item.scene.id}-nlvr"
            item.nlvr[nlvr_id] = rep
            chosen = box_statement_frames(rep, rng, forbidden, self.config.statements_per_image)
            for k, (frame, label) in enumerate(chosen):
                records += self._statement_records(
                    item,
                    f"{item.scene.id}-b{k}",
                    (image_path(nlvr_id),),
                    frame,
                    label,
                    {"layout": "nlvr", "structured_rep": rep},
                )
        return records

    def _statement_records(
        self,
        item: WorldItem,
        statement_id: str,
        images: tuple[Path, ...],
        frame: f.PairStatement | f.BoxStatement,
        label: bool,
        meta: dict,
    ) -> list[Record]:
        statements = self.say(frame)
        return [
            StatementExample(
                id=f"{statement_id}-{language}",
                images=images,
                statement=statements[i],
                label=label,
                language=language,
                source=SOURCE,
                split=item.split,
                meta={**meta, "statement_id": statement_id},
            )
            for i, language in enumerate(self.config.languages)
        ]

    def _foils(self, item: WorldItem) -> list[Record]:
        forbidden = self.plan.forbidden(item.split)
        chosen = foil_frames(
            item.scene,
            self._rng(item, "foils"),
            self.config,
            forbidden,
            self.config.foils_per_image,
        )
        return [
            FoilExample(
                id=f"{item.scene.id}-f{k}-{language}",
                image=image_path(item.scene.id),
                caption=self.say(caption)[i],
                foil=self.say(foil)[i],
                phenomenon=phenomenon,
                language=language,
                source=SOURCE,
                split=item.split,
                meta={"foil_id": f"{item.scene.id}-f{k}"},
            )
            for k, (phenomenon, caption, foil) in enumerate(chosen)
            for i, language in enumerate(self.config.languages)
        ]

    def _winoground(self, item: WorldItem) -> list[Record]:
        rng = self._rng(item, "winoground")
        if rng.random() >= self.config.winoground_rate:
            return []
        pair = winoground_pair(item.scene, rng, self.config, self.plan.forbidden(item.split))
        if pair is None:
            return []
        records: list[Record] = []
        first, second = self.say(pair.captions[0]), self.say(pair.captions[1])
        for i, language in enumerate(self.config.languages):
            texts = (first[i], second[i])
            if not same_words(*texts):
                continue
            records.append(
                WinogroundExample(
                    id=f"{item.scene.id}-w-{language}",
                    images=(image_path(pair.scenes[0].id), image_path(pair.scenes[1].id)),
                    captions=texts,
                    language=language,
                    source=SOURCE,
                    tag=_WINOGROUND_TAGS[pair.kind],
                    collapsed_tag=_WINOGROUND_TAGS[pair.kind],
                    split=item.split,
                    meta={"kind": pair.kind},
                )
            )
        if records:
            item.scenes.update({s.id: s for s in pair.scenes})
        return records

    def _sequences(self, item: WorldItem) -> list[Record]:
        rng = self._rng(item, "sequences")
        if rng.random() >= self.config.sequence_rate:
            return []
        plan = sequence_plan(item.scene, rng, self.config, self.plan.forbidden(item.split))
        if plan is None:
            return []
        item.scenes.update({scene.id: scene for scene, _ in plan.steps})
        steps = [(image_path(scene.id), self.say(action)) for scene, action in plan.steps]
        return [
            SequenceExample(
                id=f"{item.scene.id}-seq-{language}",
                steps=tuple(Step(path, texts[i]) for path, texts in steps),
                target=self.say(plan.target)[i],
                language=language,
                source=SOURCE,
                split=item.split,
                target_atoms=plan.target_atoms(),
                meta={"routine": plan.routine},
            )
            for i, language in enumerate(self.config.languages)
        ]
