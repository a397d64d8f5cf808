"""McRae et al. (2005) semantic feature production norms (``CONCS_FEATS_concstats_brm.txt``).

A tab-separated file with one row per concept-feature pair (``Concept``, ``Feature``,
``BR_Label``, ``Prod_Freq``, and statistics). It becomes one :class:`AttributeNorms` table: the
concepts in file order, the features sorted, ``positives[feature]`` the concepts listing it.

``BR_Label`` (Cree & McRae's brain-region taxonomy: visual-form_and_surface, visual-colour,
visual-motion, function, taxonomic, encyclopaedic, tactile, sound, taste, smell) is given per row,
so one feature can carry different labels for different concepts (6 features in the released
norms, e.g. ``is_dark``: visual-colour for prune, visual-form_and_surface for basement).
``knowledge_type[feature]`` is the label given by most concepts, ties broken by the larger summed
production frequency, then alphabetically; every concept's label of such a feature is kept in
``meta["br_label_by_concept"]``. ``meta["prod_freq"][concept][feature]`` keeps the production
frequency (how many of 30 participants listed it); a pair listed twice (2 in the released norms)
keeps its larger frequency and is listed in ``meta["duplicate_rows"]``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import tsv_rows
from vislang.data.readers.registry import register_reader
from vislang.data.schema import AttributeNorms, Record
from vislang.errors import DataFormatError

KNOWLEDGE_TYPES = (
    "visual-form_and_surface",
    "visual-colour",
    "visual-motion",
    "function",
    "taxonomic",
    "encyclopaedic",
    "tactile",
    "sound",
    "taste",
    "smell",
)
FILE_NAME = "CONCS_FEATS_concstats_brm.txt"

CARD = DatasetCard(
    name="mcrae",
    title="McRae semantic feature production norms",
    task_types=("classification",),
    tasks="attribute probing: predict a concept's features from its representation",
    languages=("en",),
    licence=(
        "non-commercial research and education; cite the paper and the norms "
        "(ReadMe_Terms_of_Use.txt)"
    ),
    citation=(
        "McRae, Cree, Seidenberg & McNorgan (2005). Semantic feature production norms for a "
        "large set of living and nonliving things. Behavior Research Methods 37(4), 547-559."
    ),
    scope="541 basic-level concepts of living and nonliving things, 2,526 features",
    annotator_relationship=(
        "participants in a psychology study (students), 30 per concept, listing features; the "
        "authors normalised the wording and labelled feature types"
    ),
    images="none: a text-only resource (images of the concepts must come from elsewhere)",
    texts=(
        "English features produced by at least 5 of 30 participants, e.g. is_yellow, "
        "used_for_killing, a_fruit"
    ),
    binding=(
        "none directly: features bind to images only through the concept names; about a third "
        "of the rows are visual features"
    ),
    homepage="https://link.springer.com/article/10.3758/BF03192726",
    notes=(
        "knowledge_type = majority BR_Label over concepts (ties: larger summed Prod_Freq, then "
        "alphabetical); per-concept labels of ambiguous features in meta['br_label_by_concept']"
    ),
)


@register_reader(
    "mcrae",
    card=CARD,
    layout=f"folder holding {FILE_NAME} (or the file itself)",
    kinds=(AttributeNorms,),
    options={},
)
def read_mcrae(path: Path, ctx: ReadContext) -> list[Record]:
    """Read the McRae norms into one concept x feature table."""
    file = path if path.is_file() else path / FILE_NAME
    prod_freq: dict[str, dict[str, int]] = defaultdict(dict)
    labels: dict[str, dict[str, str]] = defaultdict(dict)
    first_line: dict[tuple[str, str], int] = {}
    duplicates: list[dict[str, Any]] = []
    required = ("Concept", "Feature", "BR_Label", "Prod_Freq")
    _, rows = tsv_rows(file, required, ctx)
    for line, row in rows:
        with ctx.item(line, item_id=row.get("Concept")):
            for column in required:
                if not row[column].strip():
                    raise DataFormatError(file, "is empty", line=line, field=column)
            concept, feature, label = row["Concept"], row["Feature"], row["BR_Label"]
            if label not in KNOWLEDGE_TYPES:
                raise DataFormatError(
                    file, f"unknown knowledge type {label!r}", line=line, field="BR_Label"
                )
            try:
                frequency = int(row["Prod_Freq"])
            except ValueError:
                raise DataFormatError(
                    file,
                    f"expected an integer, got {row['Prod_Freq']!r}",
                    line=line,
                    field="Prod_Freq",
                ) from None
            if (concept, feature) in first_line:
                duplicates.append(
                    {
                        "concept": concept,
                        "feature": feature,
                        "lines": [first_line[concept, feature], line],
                        "prod_freq": [prod_freq[concept][feature], frequency],
                    }
                )
                frequency = max(frequency, prod_freq[concept][feature])
            else:
                first_line[concept, feature] = line
            prod_freq[concept][feature] = frequency
            labels[feature][concept] = label
    if not prod_freq:
        raise DataFormatError(file, "no concept-feature rows")
    knowledge_type = {f: _majority(by_concept, prod_freq, f) for f, by_concept in labels.items()}
    norms = AttributeNorms(
        id="mcrae",
        concepts=tuple(prod_freq),
        attributes=tuple(sorted(labels)),
        knowledge_type=knowledge_type,
        positives={f: frozenset(by_concept) for f, by_concept in labels.items()},
        language="en",
        source="mcrae",
        meta={
            "prod_freq": {c: dict(features) for c, features in prod_freq.items()},
            "br_label_by_concept": {
                f: dict(by_concept)
                for f, by_concept in sorted(labels.items())
                if len(set(by_concept.values())) > 1
            },
            "duplicate_rows": duplicates,
            "rows": sum(len(features) for features in prod_freq.values()) + len(duplicates),
        },
    )
    return [norms]


def _majority(
    by_concept: dict[str, str], prod_freq: dict[str, dict[str, int]], feature: str
) -> str:
    votes = Counter(by_concept.values())
    weight: Counter[str] = Counter()
    for concept, label in by_concept.items():
        weight[label] += prod_freq[concept][feature]
    return min(votes, key=lambda label: (-votes[label], -weight[label], label))
