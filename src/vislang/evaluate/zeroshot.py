"""Zero-shot classification with a dual encoder: class names through prompt templates.

For each class, every template of the language is filled with the class's name in that language;
the prompts are embedded and L2-normalised, averaged, and the mean is normalised again (CLIP's
prompt ensembling). An image gets the class whose embedding has the highest cosine with the
image's. Accuracy (top-1) is reported per language, with the accuracy of the most frequent class
as the baseline a constant guess reaches.

Templates are data, not code: ``prompt_templates.json`` in this package holds template sets (one
per kind of data, e.g. ``photo`` for photographs, ``world`` for the synthetic world), each a list
of templates per language with one ``{}`` where the class name goes. ``--templates FILE`` replaces
them with a file of the same layout.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vislang.data.images import ImageSource
from vislang.errors import ConfigError, DataFormatError
from vislang.evaluate.retrieval import embed_images, embed_texts
from vislang.represent.encoder import ImageTextEncoder

TEMPLATES_FILE = Path(__file__).resolve().parent / "prompt_templates.json"
"""The template sets shipped with vislang."""

TemplateSets = dict[str, dict[str, list[str]]]
"""Template set name → language → templates."""


@dataclass(frozen=True)
class ClassificationSet:
    """Images with one class each, and the class names per language.

    ``classes`` are the class ids the classifier chooses among (it may include classes no image
    has); ``class_names[language][class_id]`` is the name put into the templates; ``templates``
    names the template set that suits the data.
    """

    task: str
    images: tuple[ImageSource, ...]
    labels: tuple[str, ...]
    classes: tuple[str, ...]
    class_names: Mapping[str, Mapping[str, str]]
    templates: str
    description: str = ""
    left_out: int = 0  # images of the data that have no single class (explained in description)

    def languages(self) -> list[str]:
        """The languages the classes are named in, sorted."""
        return sorted(self.class_names)


def load_templates(path: str | Path | None = None) -> TemplateSets:
    """Read template sets (default: the shipped ``prompt_templates.json``).

    Every template must be a string with exactly one ``{}``; errors name the file and the field.
    """
    file = Path(path) if path is not None else TEMPLATES_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such templates file") from None
    except json.JSONDecodeError as error:
        raise DataFormatError(file, f"not valid JSON: {error.msg}", line=error.lineno) from None
    if not isinstance(data, dict):
        raise DataFormatError(file, "expected an object of template sets")
    sets: TemplateSets = {}
    for set_name, by_language in data.items():
        if set_name.startswith("_"):  # comments
            continue
        if not isinstance(by_language, dict) or not by_language:
            raise DataFormatError(file, "expected an object of languages", field=set_name)
        sets[set_name] = {}
        for language, templates in by_language.items():
            where = f"{set_name}.{language}"
            if not isinstance(templates, list) or not templates:
                raise DataFormatError(file, "expected a non-empty list of templates", field=where)
            for index, template in enumerate(templates):
                if not isinstance(template, str) or template.count("{}") != 1:
                    raise DataFormatError(
                        file,
                        "a template is a string with exactly one {}",
                        field=f"{where}[{index}]",
                    )
            sets[set_name][language] = list(templates)
    return sets


def class_embeddings(
    encoder: ImageTextEncoder,
    names: Sequence[str],
    templates: Sequence[str],
    *,
    batch_size: int = 256,
) -> np.ndarray:
    """(classes, dim): per class, the normalised mean of its normalised prompt embeddings."""
    prompts = [template.replace("{}", name) for name in names for template in templates]
    embedded = embed_texts(encoder, prompts, batch_size=batch_size)
    per_class = embedded.reshape(len(names), len(templates), -1).mean(axis=1)
    norms = np.linalg.norm(per_class, axis=1, keepdims=True)
    return (per_class / np.maximum(norms, 1e-12)).astype(np.float32)


def predict(image_embeddings: np.ndarray, classifier: np.ndarray) -> np.ndarray:
    """The index of the most similar class embedding for each image (first on ties)."""
    return np.argmax(image_embeddings @ classifier.T, axis=1)


@dataclass
class ZeroShotReport:
    """Accuracy per language of one classification set."""

    task: str
    description: str
    images: int
    classes: int
    templates: dict[str, list[str]]
    languages: dict[str, dict[str, float]]
    majority_baseline: float
    left_out: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "task": self.task,
            "description": self.description,
            "images": self.images,
            "classes": self.classes,
            "majority_baseline": self.majority_baseline,
            "left_out": self.left_out,
            "languages": self.languages,
            "templates": self.templates,
            "failed_images": [{"source": s, "reason": r} for s, r in self.failures],
        }


def evaluate_zeroshot(
    encoder: ImageTextEncoder,
    dataset: ClassificationSet,
    templates: Mapping[str, Sequence[str]],
    *,
    languages: Sequence[str] | None = None,
    batch_size: int = 64,
    threads: int = 2,
    show_progress: bool = False,
) -> ZeroShotReport:
    """Classify every image of ``dataset`` in each language (default: every language that has
    class names and templates) and report top-1 accuracy."""
    wanted = list(languages) if languages else dataset.languages()
    for language in wanted:
        if language not in dataset.class_names:
            raise ConfigError(
                f"no class names in {language!r} for task {dataset.task!r} "
                f"(languages: {', '.join(dataset.languages())})"
            )
        if language not in templates:
            raise ConfigError(
                f"no prompt templates for {language!r} (template languages: "
                f"{', '.join(sorted(templates))})"
            )
    if not dataset.images:
        raise ConfigError(f"task {dataset.task!r}: no images to classify")
    embedded = embed_images(
        encoder, dataset.images, batch_size=batch_size, threads=threads, show_progress=show_progress
    )
    labels = [dataset.labels[i] for i in embedded.indices]
    if not labels:
        raise ConfigError(f"task {dataset.task!r}: none of the images could be decoded")
    truth = np.asarray([dataset.classes.index(label) for label in labels])
    results: dict[str, dict[str, float]] = {}
    for language in wanted:
        names = [dataset.class_names[language][c] for c in dataset.classes]
        classifier = class_embeddings(encoder, names, templates[language])
        correct = predict(embedded.embeddings, classifier) == truth
        results[language] = {"accuracy": float(correct.mean()), "images": len(labels)}
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    return ZeroShotReport(
        task=dataset.task,
        description=dataset.description,
        images=len(labels),
        classes=len(dataset.classes),
        templates={language: list(templates[language]) for language in wanted},
        languages=results,
        majority_baseline=majority,
        left_out=dataset.left_out,
        failures=embedded.failures,
    )
