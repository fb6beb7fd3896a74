"""CaptionProbe: a training-only head that reads each object's attributes back from the text
encoder's tokens.

The flow loss teaches the text encoder only what moves many latent values: colours and sizes. A
shape changes a few cells at an object's corners, so the shipped encoder's mean embeddings of
prompts that differ only in their shape word lie 2% apart, against 29% for a colour
(docs/architecture.md), and the denoiser cannot draw a shape its prompt does not tell apart.
Asking the encoder to name each object's shape, size, motion and colour keeps them apart in what
the denoiser reads.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import world

ATTRIBUTES = (("shape", world.SHAPES), ("size", world.SIZES), ("motion", world.MOTIONS), ("color", world.COLORS))
IGNORE = -100  # no such object (or no prompt): cross_entropy's ignore_index


def caption_labels(captions: list[str], slots: int = 2) -> dict[str, torch.Tensor]:
    """Per attribute, each caption's class index per object slot (B, slots); IGNORE where a caption
    has fewer objects, and for an empty prompt (the guidance dropout)."""
    labels = {name: torch.full((len(captions), slots), IGNORE, dtype=torch.long) for name, _ in ATTRIBUTES}
    for i, caption in enumerate(captions):
        if not caption:
            continue
        _, objects = world.parse_caption(caption)
        for j, o in enumerate(objects[:slots]):
            for name, values in ATTRIBUTES:
                labels[name][i, j] = values.index(getattr(o, name))
    return labels


class CaptionProbe(nn.Module):
    """(embeddings (B, L, D), mask (B, L)) -> per attribute, logits (B, slots, classes): one learned
    query per object slot attends over the tokens, and a linear head per attribute reads the result."""

    def __init__(self, width: int, slots: int = 2):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(slots, width) / width ** 0.5)
        self.heads = nn.ModuleDict({name: nn.Linear(width, len(values)) for name, values in ATTRIBUTES})

    def forward(self, emb: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        scores = (emb @ self.queries.T) * emb.shape[-1] ** -0.5 + ((1 - mask) * -1e4)[..., None]  # (B, L, slots)
        read = scores.softmax(dim=1).transpose(1, 2) @ emb  # (B, slots, D)
        return {name: head(read) for name, head in self.heads.items()}

    def loss(self, emb: torch.Tensor, mask: torch.Tensor, captions: list[str]) -> torch.Tensor:
        """Mean cross-entropy over attributes of the objects the captions name (0 when none does)."""
        logits = self(emb, mask)
        total = emb.new_zeros(())
        for name, target in caption_labels(captions, self.queries.shape[0]).items():
            target = target.to(emb.device)
            if (target != IGNORE).any():
                total = total + F.cross_entropy(logits[name].flatten(0, 1), target.flatten(), ignore_index=IGNORE)
        return total / len(ATTRIBUTES)
