"""Readers for the formats the field's datasets are distributed in, behind one entry point.

>>> from vislang.data.readers import read_dataset
>>> data = read_dataset("coco:../shared/data/coco-mini", split="val")  # doctest: +SKIP
>>> data.languages(), len(data.missing_images)  # doctest: +SKIP

Each format has a small module that registers its reader (with :func:`register_reader`) and the
:class:`DatasetCard` of its dataset; importing this package registers them all.
"""

from vislang.data.readers import (  # noqa: F401  (importing a module registers its reader)
    coco,
    iglue,
    karpathy,
    mcrae,
    multi30k,
    nlvr,
    nlvr2,
    things,
    valse,
    vqav2,
    winoground,
    world,
    xm3600,
)
from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import Dataset, MissingImage, ReadContext, SkippedItem
from vislang.data.readers.registry import (
    MissingImageError,
    Reader,
    get_reader,
    list_readers,
    read_dataset,
    register_reader,
)

__all__ = [
    "Dataset",
    "DatasetCard",
    "MissingImage",
    "MissingImageError",
    "ReadContext",
    "Reader",
    "SkippedItem",
    "get_reader",
    "list_readers",
    "read_dataset",
    "register_reader",
]
