"""Prompts of retrieval-augmented captioners, from templates kept in a data file.

The templates live in ``prompt_templates.toml`` beside this module (read its header for the
format): SmallCap's English template, PAELLA's per-language templates naming the language,
LMCap's N-shot template with demonstrations, and short per-language templates for the
synthetic world's small language model. Another file of the same format can be passed instead.

::

    from vislang.retrieval.prompts import load_template

    template = load_template("paella", "de")          # a PromptTemplate for German
    prompt = template.prompt(["Es gibt einen roten Kreis.", ...], eos="</s>")
    text = template.caption_text("Es gibt ...")       # what follows the prompt in training
    demo = template.demonstration(["..."], "gold caption", eos="</s>")   # N-shot sets only
    template.to_dict()                                 # saved with every model and run

A :class:`PromptTemplate` is a plain frozen record of the resolved strings for one language, so
a model can save exactly the prompt it was trained with and rebuild it without the file.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from vislang.errors import ConfigError, DataFormatError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TEMPLATES_FILE = Path(__file__).resolve().parent / "prompt_templates.toml"
"""The shipped templates."""

_FIELDS = (
    "description",
    "with_retrieval",
    "without_retrieval",
    "separator",
    "caption_separator",
    "demonstration",
    "demonstration_separator",
)
_REQUIRED = ("with_retrieval", "without_retrieval")
_DEFAULTS = {
    "description": "",
    "separator": " ",
    "caption_separator": " ",
    "demonstration": "",
    "demonstration_separator": " ",
}


@dataclass(frozen=True)
class PromptTemplate:
    """The templates of one set for one language, with every placeholder but the captions and
    the end-of-text token filled in (see ``prompt_templates.toml``)."""

    set: str
    language: str
    language_name: str
    with_retrieval: str
    without_retrieval: str
    separator: str = " "
    caption_separator: str = " "
    demonstration: str = ""
    demonstration_separator: str = " "
    description: str = ""

    @property
    def is_few_shot(self) -> bool:
        """Whether the set prompts with demonstrations (LMCap)."""
        return bool(self.demonstration)

    def prompt(self, captions: Sequence[str], eos: str = "") -> str:
        """The prompt for an image with these retrieved captions (none: the template without
        retrieval); ``eos`` is the language model's end-of-text token."""
        if isinstance(captions, str):
            raise TypeError("captions must be a sequence of texts, not one string")
        if not captions:
            return self._fill(self.without_retrieval, eos=eos)
        joined = self._fill(self.separator, eos=eos).join(captions)
        return self._fill(self.with_retrieval, captions=joined, eos=eos)

    def caption_text(self, caption: str, word_marks: bool = False, prompt: str = " ") -> str:
        """The caption as it follows ``prompt``: after ``caption_separator``, unless the
        tokenizer marks word starts itself (``word_marks``: SentencePiece's ``▁``) or the prompt
        is empty (the caption then starts the text)."""
        if not prompt or (word_marks and self.caption_separator.isspace()):
            return caption
        return self.caption_separator + caption

    def demonstration_block(
        self, captions: Sequence[str], caption: str, eos: str = "", word_marks: bool = False
    ) -> str:
        """One demonstration of an N-shot set: the prompt for a demonstration image with its
        retrieved ``captions``, followed by its gold ``caption``."""
        if not self.is_few_shot:
            raise ConfigError(f"prompt set {self.set!r} has no demonstration template")
        prompt = self.prompt(captions, eos)
        return self._fill(
            self.demonstration,
            prompt=prompt,
            caption=self.caption_text(caption, word_marks, prompt),
            eos=eos,
        )

    def few_shot_prompt(
        self,
        demonstrations: Sequence[str],
        captions: Sequence[str],
        eos: str = "",
    ) -> str:
        """Demonstration blocks (from :meth:`demonstration_block`) then the query's prompt."""
        separator = self._fill(self.demonstration_separator, eos=eos)
        return separator.join([*demonstrations, self.prompt(captions, eos)])

    def to_dict(self) -> dict[str, str]:
        """The record as JSON-ready strings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptTemplate:
        """Rebuild a template saved with :meth:`to_dict`."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def _fill(self, text: str, **values: str) -> str:
        return _format(text, {"language": self.language_name, **values}, self.set, self.language)


def template_sets(path: str | Path | None = None) -> dict[str, str]:
    """Set name → description, for the shipped file or ``path``."""
    data = _read(path)
    return {name: str(entry.get("description", "")) for name, entry in data["sets"].items()}


def load_template(set_name: str, language: str, path: str | Path | None = None) -> PromptTemplate:
    """The templates of ``set_name`` for ``language`` from the shipped file (or ``path``).

    A language without a name in ``[languages]`` is named by its code.
    """
    source = Path(path) if path is not None else TEMPLATES_FILE
    data = _read(path)
    sets = data["sets"]
    if set_name not in sets:
        raise ConfigError(f"{source}: no prompt set {set_name!r} (sets: {', '.join(sorted(sets))})")
    values = _resolve(sets, set_name, language, source, seen=())
    missing = [key for key in _REQUIRED if key not in values]
    if missing:
        raise DataFormatError(source, "missing", field=f"sets.{set_name}.{missing[0]}")
    values = {**_DEFAULTS, **values}
    return PromptTemplate(
        set=set_name,
        language=language,
        language_name=str(data.get("languages", {}).get(language, language)),
        **{key: values[key] for key in _FIELDS},
    )


def _resolve(
    sets: Mapping[str, Any], name: str, language: str, source: Path, seen: tuple[str, ...]
) -> dict[str, str]:
    """A set's fields for ``language``: its parent's (``extends``), then its own, then its
    language table's."""
    if name in seen:
        raise DataFormatError(source, f"sets extend each other in a loop: {' → '.join(seen)}")
    entry = sets.get(name)
    if not isinstance(entry, Mapping):
        raise DataFormatError(source, "not a table of templates", field=f"sets.{name}")
    values: dict[str, str] = {}
    parent = entry.get("extends")
    if parent is not None:
        if parent not in sets:
            raise DataFormatError(source, f"extends unknown set {parent!r}", field=f"sets.{name}")
        values = _resolve(sets, parent, language, source, (*seen, name))
    own = {key: value for key, value in entry.items() if not isinstance(value, Mapping)}
    for table in (own, entry.get(language, {})):
        for key, value in table.items():
            if key == "extends":
                continue
            if key not in _FIELDS:
                raise DataFormatError(source, "unknown template field", field=f"sets.{name}.{key}")
            if not isinstance(value, str):
                raise DataFormatError(
                    source, f"expected a string, got {value!r}", field=f"sets.{name}.{key}"
                )
            values[key] = value
    return values


def _format(text: str, values: Mapping[str, str], set_name: str, language: str) -> str:
    try:
        return text.format_map(_Strict(values))
    except (KeyError, ValueError, IndexError) as error:
        raise ConfigError(
            f"prompt set {set_name!r} ({language}): template {text!r} cannot be filled ({error})"
        ) from None


class _Strict(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"unknown placeholder {{{key}}}")


def _read(path: str | Path | None) -> dict[str, Any]:
    source = Path(path) if path is not None else TEMPLATES_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such prompt template file") from None
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None)
        raise DataFormatError(source, f"not valid TOML: {error}", line=line) from None
    if not isinstance(data.get("sets"), Mapping) or not data["sets"]:
        raise DataFormatError(source, "missing or empty", field="sets")
    languages = data.get("languages", {})
    if not isinstance(languages, Mapping):
        raise DataFormatError(source, "expected a table of language names", field="languages")
    return data


__all__ = ["TEMPLATES_FILE", "PromptTemplate", "load_template", "template_sets"]
