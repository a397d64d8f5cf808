"""A synthetic multilingual visual world: scenes of coloured shapes, described in seven languages,
with every task type of the lectures derived from each scene.

In memory (for training loops; nothing touches the disk)::

    import random
    from vislang.data.world import WorldConfig, World, sample_scene, render_scene, describe

    config = WorldConfig(scenes=1000, seed=0)
    scene = sample_scene(random.Random(0), config)
    image = render_scene(scene, size=64)                 # PIL.Image
    captions = describe(scene, "sw", random.Random(1))  # five Swahili captions

    world = World(config)
    for item in world.items():                           # scene by scene, deterministic
        item.records["vqa"]                              # VQAExample records (all languages)
        images = {i: render_scene(s, 64) for i, s in item.scenes.items()}

On disk: :func:`write_world` (``vislang world generate``). NLVR layout: :func:`render_nlvr`.
"""

from vislang.data.world.attributes import attribute_norms
from vislang.data.world.captions import caption_frames, describe
from vislang.data.world.concepts import COLOURS, SHAPES, SIZES
from vislang.data.world.config import DEFAULT_LANGUAGES, WorldConfig
from vislang.data.world.generate import TASK_FILES, World, WorldItem
from vislang.data.world.languages import LANGUAGES, grammar
from vislang.data.world.nlvr import render_nlvr, sample_structured_rep
from vislang.data.world.render import object_box, render_scene
from vislang.data.world.scene import Scene, WorldObject, sample_scene
from vislang.data.world.splits import SPLITS, plan_splits
from vislang.data.world.writer import read_manifest, verify_world, write_world

__all__ = [
    "COLOURS",
    "DEFAULT_LANGUAGES",
    "LANGUAGES",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "TASK_FILES",
    "Scene",
    "World",
    "WorldConfig",
    "WorldItem",
    "WorldObject",
    "attribute_norms",
    "caption_frames",
    "describe",
    "grammar",
    "object_box",
    "plan_splits",
    "read_manifest",
    "render_nlvr",
    "render_scene",
    "sample_scene",
    "sample_structured_rep",
    "verify_world",
    "write_world",
]
