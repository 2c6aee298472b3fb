"""Encode each distinct prompt once per run.

A chain renders many chunks whose prompts repeat (sticky keyframes, one negative prompt for all); Gemma (12B)
is by far the most expensive thing to run per prompt. ``PromptCache`` is an explicit object owned by a run (no
module-level state): it keys on the stripped text, encodes a text the first time it is asked for, and keeps
the result (optionally on another device, e.g. the CPU while the DiT needs the GPU).
"""

from __future__ import annotations

from typing import Iterable

from .encoder import TextConditioning, TextEncoder


class PromptCache:
    def __init__(self, encoder: TextEncoder, *, store_device=None):
        self.encoder = encoder
        self.store_device = store_device
        self._entries: dict[str, TextConditioning] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: str) -> bool:
        return text.strip() in self._entries

    def encode(self, text: str) -> TextConditioning:
        """The conditioning of one text ([1, T, C] tensors), encoded on first use only."""
        key = text.strip()
        if key not in self._entries:
            result = self.encoder.encode([key])
            self._entries[key] = result if self.store_device is None else result.to(self.store_device)
        return self._entries[key]

    def put(self, text: str, conditioning: TextConditioning) -> None:
        """Use ``conditioning`` for ``text`` from now on (encoded earlier, e.g. by a separate text-encode step)."""
        self._entries[text.strip()] = conditioning if self.store_device is None else conditioning.to(self.store_device)

    def get(self, prompt: str, negative: str | None = None) -> tuple[TextConditioning, TextConditioning | None]:
        """(positive, negative) conditioning; ``negative`` None means no guidance pass needs it."""
        return self.encode(prompt), (None if negative is None else self.encode(negative))

    def warm(self, texts: Iterable[str]) -> None:
        """Encode every text up front (e.g. all prompts of a chain before Gemma is unloaded)."""
        for text in texts:
            self.encode(text)
