"""A character-level CLIP tokenizer and a small CLIP text encoder, built here so nothing is downloaded.

The small default model's text side is trained with it; a Stable Diffusion base brings its own tokenizer and encoder
from the local directory the user names.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
from transformers.utils import logging as transformers_logging

MAX_LENGTH = 96  # tokens: characters of a prompt plus start and end (the built-in prompts are under 80)


def char_tokenizer(directory: str | Path) -> CLIPTokenizer:
    """Write a character-level CLIP vocabulary (printable ASCII, no merges) into ``directory`` and load it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chars = [c for c in string.printable if not c.isspace()]
    tokens = ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(
        str(directory / "vocab.json"),
        str(directory / "merges.txt"),
        model_max_length=MAX_LENGTH,
        pad_token="<|endoftext|>",
    )


def small_text_encoder(tokenizer: CLIPTokenizer, width: int = 32, layers: int = 2, heads: int = 2) -> CLIPTextModel:
    """A small CLIP text transformer for ``tokenizer``'s vocabulary (random weights; trained with the renderer)."""
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=MAX_LENGTH,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config)


def token_ids(tokenizer: CLIPTokenizer, prompts: list[str]) -> torch.Tensor:
    """(len(prompts), max length) token ids, padded and truncated to the tokenizer's length, as CLIP expects."""
    return tokenizer(
        prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' per-load progress bar (a suite loads a text encoder per worker and episode)."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()
