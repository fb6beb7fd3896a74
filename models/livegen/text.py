"""The tokenizer and the small text encoder.

The tokenizer is simple enough to write again in any language, and server/ does so: it must
agree exactly (a test compares them on the same strings).
- A word is a maximal run of characters that are neither ASCII whitespace nor ASCII punctuation.
- A word is ASCII-lowercased (A-Z only) and looked up in the vocabulary; a miss is [UNK], so any
  UTF-8 text encodes.
- The ids are [BOS] followed by the words, clipped to max_tokens and padded with [PAD] (id 0).
The empty prompt, [BOS] alone, is the unconditional input of classifier-free guidance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn as nn

from .layers import Linear, attention

PAD, UNK, BOS = "[PAD]", "[UNK]", "[BOS]"
SPECIALS = [PAD, UNK, BOS]
_SEPARATORS = re.compile(r"[\t\n\x0b\x0c\r !-/:-@\[-`{-~]+")


class Tokenizer:
    """Words to ids, per the rules in this module's docstring."""

    def __init__(self, words: list[str], max_tokens: int):
        self.vocab = SPECIALS + list(words)
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.max_tokens = max_tokens

    def encode(self, text: str) -> list[int]:
        words = [w for w in _SEPARATORS.split(text) if w]
        lowered = (w.translate(_ASCII_LOWER) for w in words)
        ids = [self.ids[BOS]] + [self.ids.get(w, self.ids[UNK]) for w in lowered]
        ids = ids[: self.max_tokens]
        return ids + [self.ids[PAD]] * (self.max_tokens - len(ids))

    def batch(self, texts: list[str]) -> torch.Tensor:
        """(B, max_tokens) int64 ids."""
        return torch.tensor([self.encode(t) for t in texts], dtype=torch.long)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass
class TextConfig:
    vocab_size: int
    max_tokens: int = 32  # longer prompts are clipped, never rejected
    width: int = 128
    depth: int = 2
    heads: int = 4


class TextBlock(nn.Module):
    """A pre-norm transformer block with a key padding mask."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = Linear(width, 3 * width)
        self.proj = Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(Linear(width, 4 * width), nn.GELU(), Linear(4 * width, width))

    def forward(self, x, bias):
        """x (B, L, D); bias (B, 1, 1, L) additive attention mask."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = attention(q, k, v, bias).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(y)
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    """ids (B, L) int64 -> embeddings (B, L, D) float32 and mask (B, L) float32 (1 = a token)."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos = nn.Parameter(torch.zeros(cfg.max_tokens, cfg.width))
        self.blocks = nn.ModuleList(TextBlock(cfg.width, cfg.heads) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, ids):
        mask = (ids != 0).float()  # (B, L)
        bias = ((1 - mask) * -1e4)[:, None, None, :]  # (B, 1, 1, L)
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, bias)
        return self.norm(x), mask


def default_tokenizer(max_tokens: int = 32) -> Tokenizer:
    from .world import vocabulary

    return Tokenizer(vocabulary(), max_tokens)
