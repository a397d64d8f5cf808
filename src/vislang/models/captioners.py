"""Loading any captioner by reference, with its datastore, as the command line does.

:func:`load_captioner` takes what ``vislang caption --model`` and ``vislang eval captioning
--model`` take:

- a **trained SmallCap/PAELLA folder** (``vislang train smallcap-world``): the captioner, and
  its own datastore (``<model>/datastore``) unless another is given;
- a **causal language model** (a vislang LM folder such as the stage-0 model, a Hugging Face
  GPT-2/XGLM/Llama folder or hub id): LMCap, training-free, with the given datastore and the
  dual encoder that built it (the one its manifest names, or ``encoder``). Its demonstrations
  come from datastore rows whose image files can be read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vislang.errors import ConfigError
from vislang.models.caption_data import CaptionedImage
from vislang.models.captioning import token_counter
from vislang.models.causal_lm import CausalLM
from vislang.models.dual_encoder import DualEncoder
from vislang.models.lmcap import LMCap, LMCapConfig, demonstrations_from_images
from vislang.models.registry import load_model
from vislang.models.smallcap import DATASTORE_DIR, SmallCap
from vislang.retrieval.caption_retrieval import CaptionRetriever, RetrievalConfig
from vislang.retrieval.datastore import Datastore

SMALLCAP, LMCAP = "smallcap", "lmcap"


@dataclass
class LoadedCaptioner:
    """A captioner ready to caption: the model, its retriever (``None`` for a model trained
    without retrieval) and extra options its ``caption`` methods take (LMCap's
    demonstrations)."""

    kind: str
    captioner: SmallCap | LMCap
    retriever: CaptionRetriever | None
    datastore: str | None
    caption_options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What was loaded, for reports."""
        report = self.captioner.parameter_report()
        keep = 0 if self.retriever is None else self.retriever.config.keep
        return {"kind": self.kind, "datastore": self.datastore, "k": keep, "parameters": report}


def load_captioner(
    model: str | Path,
    *,
    languages: Sequence[str],
    datastore: str | Path | None = None,
    encoder: str | Path | None = None,
    k: int | None = None,
    lmcap: LMCapConfig | None = None,
) -> LoadedCaptioner:
    """The captioner ``model`` names (see the module docstring), ready for ``languages``.

    ``k`` overrides how many retrieved captions go into a prompt; ``lmcap`` configures LMCap
    when ``model`` is a language model.
    """
    loaded = load_model(model)
    if isinstance(loaded, SmallCap):
        store_path = Path(datastore) if datastore else Path(model) / DATASTORE_DIR
        retrieval = loaded.config.retrieval
        if k is not None:
            retrieval = dataclasses.replace(retrieval, keep=k, search_k=max(k, retrieval.search_k))
        if not loaded.uses_retrieval():
            if k:
                raise ConfigError(f"{model}: the model was trained without retrieval; drop --k")
            return LoadedCaptioner(SMALLCAP, loaded, None, None)
        retriever = _retriever(store_path, loaded.encoder, retrieval, loaded)
        return LoadedCaptioner(SMALLCAP, loaded, retriever, str(store_path))
    if isinstance(loaded, CausalLM):
        return _lmcap(loaded, languages, datastore, encoder, k, lmcap or LMCapConfig())
    raise ConfigError(
        f"{model}: a {type(loaded).__name__} is not a captioner (give a trained captioner "
        "folder or a causal language model)"
    )


def _lmcap(
    lm: CausalLM,
    languages: Sequence[str],
    datastore: str | Path | None,
    encoder_ref: str | Path | None,
    k: int | None,
    config: LMCapConfig,
) -> LoadedCaptioner:
    if k is not None:
        config = dataclasses.replace(
            config,
            retrieval=dataclasses.replace(
                config.retrieval, keep=k, search_k=max(k, config.retrieval.search_k)
            ),
        )
    if not datastore and config.retrieval.keep:
        raise ConfigError("LMCap prompts with retrieved captions: give a caption datastore")
    store = Datastore.load(datastore) if datastore else None
    reference = encoder_ref or (store.model if store is not None else None)
    if reference is None:
        raise ConfigError("LMCap needs the dual encoder of its datastore: give --encoder")
    encoder = load_model(reference)
    if not isinstance(encoder, DualEncoder):
        raise ConfigError(f"{reference}: not a dual encoder")
    captioner = LMCap(lm, encoder, config)
    retriever = None
    if store is not None and config.retrieval.keep:
        retriever = CaptionRetriever(store, encoder, config.retrieval, token_counter(lm.tokenizer))
    demonstrations = {}
    if config.shots:
        images = demonstration_images(store) if store is not None else []
        if not images:
            raise ConfigError(
                f"LMCap with {config.shots} demonstrations needs demonstration images, but the "
                "datastore's rows name no readable image files; use 0 demonstrations"
            )
        demonstrations = demonstrations_from_images(captioner, retriever, images, languages)
    return LoadedCaptioner(
        LMCAP,
        captioner,
        retriever,
        None if datastore is None else str(datastore),
        {"demonstrations": demonstrations},
    )


def demonstration_images(store: Datastore) -> list[CaptionedImage]:
    """The images of a caption datastore whose files exist, with their captions by language
    (the candidates for LMCap's demonstrations)."""
    columns = {
        name: store.metadata.column(name).to_pylist()
        for name in ("image_id", "image", "text", "language", "split")
    }
    images: dict[str, CaptionedImage] = {}
    exists: dict[str, bool] = {}
    for image_id, image, text, language, split in zip(*columns.values(), strict=True):
        if not image or not image_id or not text or not language:
            continue
        if image not in exists:
            exists[image] = Path(image).is_file()
        if not exists[image]:
            continue
        item = images.setdefault(image_id, CaptionedImage(image_id, image, split))
        item.captions[language] = (*item.captions.get(language, ()), text)
    return list(images.values())


def _retriever(
    path: Path, encoder: DualEncoder, config: RetrievalConfig, captioner: SmallCap
) -> CaptionRetriever:
    if not path.exists():
        raise ConfigError(
            f"{path}: no caption datastore there; the model prompts with retrieved captions, "
            "give one with --datastore"
        )
    return CaptionRetriever(
        Datastore.load(path), encoder, config, token_counter(captioner.lm.tokenizer)
    )


__all__ = ["LMCAP", "SMALLCAP", "LoadedCaptioner", "demonstration_images", "load_captioner"]
