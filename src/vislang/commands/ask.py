"""``vislang ask IMAGE "question" --model DIR``: one question about one image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vislang import console
from vislang.errors import ConfigError


def ask_command(
    image: Annotated[Path, typer.Argument(help="Image file to ask about.")],
    question: Annotated[str, typer.Argument(help="The question, in any language the model reads.")],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Vision-language model: a vislang model folder (prefix_vlm, flamingo), a "
            "Hugging Face LLaVA folder or hub id, or a preset.",
        ),
    ],
    max_new_tokens: Annotated[
        int | None,
        typer.Option("--max-new-tokens", min=1, help="Longest answer, in tokens (default: 16)."),
    ] = None,
    beams: Annotated[int, typer.Option("--beams", min=1, help="Beam width (1: greedy).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ask a vision-language model a question about an image and print its answer."""
    from vislang.models.registry import load_model
    from vislang.models.vision_language import ANSWER_MAX_NEW_TOKENS, VisionLanguageModel

    vlm = load_model(model)
    if not isinstance(vlm, VisionLanguageModel):
        raise ConfigError(
            f"{model}: a {type(vlm).__name__}, not a vision-language model (prefix_vlm, "
            "flamingo, LLaVA)"
        )
    longest = max_new_tokens or ANSWER_MAX_NEW_TOKENS
    answer = vlm.answer([image], [question], max_new_tokens=longest, num_beams=beams)[0]
    result = {
        "image": str(image),
        "question": question,
        "answer": answer,
        "model": model,
        "prompt": vlm.question_prompt(question),
    }
    console.emit(result, as_json, render=lambda: console.stdout.print(answer, markup=False))
