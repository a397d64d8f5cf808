"""Tiny randomly initialised GPT-2, XGLM and Llama-style causal LMs (with real tokenizers built
offline) for the cross-attention and captioner tests."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaTokenizer,
    PreTrainedModel,
    XGLMConfig,
    XGLMForCausalLM,
    XGLMTokenizer,
)

ARCHITECTURES = ("gpt2", "xglm", "llama")
CORPUS = [
    "There is a red circle and two blue squares.",
    "A large green triangle is to the left of a yellow star.",
    "Es gibt einen roten Kreis und zwei blaue Quadrate.",
    "Kuna mduara mwekundu na miraba miwili ya bluu.",
    "图中有一个红色的圆形和两个蓝色的正方形。",
    "Similar images show: This image shows:",
]


def tiny_config(architecture: str, vocab_size: int = 96, **overrides: object) -> object:
    """A 2-layer, 32-wide config of ``architecture`` with 4 heads (no dropout)."""
    if architecture == "gpt2":
        fields = dict(
            vocab_size=vocab_size, n_positions=128, n_embd=32, n_layer=2, n_head=4,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        )  # fmt: skip
        return GPT2Config(**{**fields, **overrides})
    if architecture == "xglm":
        fields = dict(
            vocab_size=vocab_size, max_position_embeddings=128, d_model=32, ffn_dim=64,
            num_layers=2, attention_heads=4, dropout=0.0, attention_dropout=0.0,
            activation_dropout=0.0,
        )  # fmt: skip
        return XGLMConfig(**{**fields, **overrides})
    fields = dict(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    return LlamaConfig(**{**fields, **overrides})


def tiny_model(architecture: str, seed: int = 0, **overrides: object) -> PreTrainedModel:
    """A tiny random causal LM in eval mode; weights drawn with a large spread so that
    next-token scores are far from ties."""
    classes = {"gpt2": GPT2LMHeadModel, "xglm": XGLMForCausalLM, "llama": LlamaForCausalLM}
    torch.manual_seed(seed)
    model = classes[architecture](tiny_config(architecture, **overrides))
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim == 2:
                parameter.normal_(0.0, 0.3)
    return model.eval()


def tiny_tokenizer(architecture: str) -> object:
    """A real tokenizer of the architecture's kind, trained on :data:`CORPUS`."""
    if architecture == "gpt2":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.train_from_iterator(
            CORPUS * 4,
            trainers.BpeTrainer(
                vocab_size=320,
                special_tokens=["<|endoftext|>"],
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            ),
        )
        vocab, merges = _bpe_parts(tokenizer)
        return GPT2Tokenizer(vocab=vocab, merges=merges)
    if architecture == "xglm":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tokenizer.decoder = decoders.Metaspace()
        tokenizer.train_from_iterator(
            CORPUS * 4,
            trainers.UnigramTrainer(
                vocab_size=150,
                special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                unk_token="<unk>",
                show_progress=False,
            ),
        )
        pieces = [tuple(entry) for entry in json.loads(tokenizer.to_str())["model"]["vocab"]]
        return XGLMTokenizer(vocab=pieces)
    bytes_ = [f"<0x{value:02X}>" for value in range(256)]
    tokenizer = Tokenizer(models.BPE(byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tokenizer.train_from_iterator(
        CORPUS * 4,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", *bytes_], show_progress=False
        ),
    )
    vocab, merges = _bpe_parts(tokenizer)
    return LlamaTokenizer(vocab=vocab, merges=merges, add_bos_token=True)


def save_tiny_checkpoint(architecture: str, directory: Path, **overrides: object) -> Path:
    """Save a tiny random checkpoint with its tokenizer, as a Hugging Face model folder;
    ``overrides`` change fields of :func:`tiny_config`."""
    tokenizer = tiny_tokenizer(architecture)
    extra: dict[str, object] = dict(overrides)
    if architecture == "gpt2":
        extra |= {"bos_token_id": tokenizer.eos_token_id, "eos_token_id": tokenizer.eos_token_id}
    model = tiny_model(architecture, vocab_size=len(tokenizer), **extra)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _bpe_parts(tokenizer: Tokenizer) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(tokenizer.to_str())["model"]
    return model["vocab"], [tuple(pair) for pair in model["merges"]]
