"""FrameCritic: how likely a decoded first frame is to show its prompt as the quality check wants.

A stream's first frame comes from text alone, and the same prompt gives a frame with each object
one clean shape under some seeds and fragments or specks under others (on 48 prompts, 8 seeds
each: one region per object in 40% of the frames, and in 93% of the prompts' best frames). A
continuation carries whatever the first frame drew, so the engine samples several first frames as
one batch and keeps the one the critic rates best; later frames are never chosen this way.

The critic learns from the model's own first frames, each judged by the quality analyzer
(livegen/analyze.py) after decoding: its targets are the share of the frame's video frames that
are coherent, and the shares of object-frames with the object once and with its shape, and of
frames with no stray region. It looks at the decoded picture (a critic of the latent learned next
to nothing in a first trial: a fragment is plain in pixels and subtle in the latent) and at the
prompt's tokens, so it can tell a small red square from a large red circle.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

JUDGEMENTS = ("coherent", "objects_present", "shape", "no_extra")  # the analyzer's ClipReport fields it predicts
REWARD = (1.0, 0.5, 0.25, 0.25)  # what a candidate is worth: JUDGEMENTS weighted, coherent first
RANK_TEMPERATURE = 0.1  # of the softmax over one prompt's candidates' rewards that the scores learn to match
THUMBNAIL = 64  # the side of the picture the critic sees


def thumbnail(frames: torch.Tensor) -> torch.Tensor:
    """A latent frame's decoded video frames (B, T, H, W, 3) uint8 -> its last frame, averaged down
    to (B, 3, THUMBNAIL, THUMBNAIL) in [-1, 1]."""
    last = frames[:, -1].permute(0, 3, 1, 2).float() / 127.5 - 1
    return F.adaptive_avg_pool2d(last, THUMBNAIL)


class FrameCritic(nn.Module):
    """(picture (B, 3, 64, 64) from `thumbnail`, text (B, L, Dt), text_mask (B, L)) -> logits (B, 4),
    one per JUDGEMENTS entry. `score` ranks candidates."""

    def __init__(self, text_width: int, width: int = 32):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1))  # (B, 2W, 16, 16)
        self.query = nn.Linear(2 * width, 2 * width)
        self.key = nn.Linear(text_width, 2 * width)
        self.value = nn.Linear(text_width, 2 * width)
        # Objects span up to a third of the frame: two more strided convolutions see one whole with its surroundings.
        self.body = nn.Sequential(
            nn.SiLU(), nn.Conv2d(4 * width, 4 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(4 * width, 4 * width, 3, stride=2, padding=1), nn.SiLU())
        self.head = nn.Sequential(nn.Linear(8 * width, 2 * width), nn.SiLU(), nn.Linear(2 * width, len(JUDGEMENTS)))

    def forward(self, picture: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        x = self.stem(picture)  # (B, 2W, h, w)
        b, _, h, w = x.shape
        q = self.query(x.flatten(2).transpose(1, 2))  # (B, hw, 2W)
        att = q @ self.key(text).transpose(1, 2) * q.shape[-1] ** -0.5 + ((1 - text_mask) * -1e4)[:, None, :]
        y = (att.softmax(dim=-1) @ self.value(text)).transpose(1, 2).reshape(b, -1, h, w)
        z = self.body(torch.cat([x, y], dim=1))
        return self.head(torch.cat([z.mean(dim=(2, 3)), z.amax(dim=(2, 3))], dim=1))

    def rank(self, picture: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """(B,): the log-probability that every judgement holds, as if they were independent."""
        return F.logsigmoid(self(picture, text, text_mask)).sum(dim=1)

    def score(self, frames: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """`rank` of decoded frames (B, T, H, W, 3) uint8."""
        return self.rank(thumbnail(frames), text, text_mask)


def critic_loss(critic: FrameCritic, picture, text, text_mask, targets: torch.Tensor, group: int) -> torch.Tensor:
    """Binary cross-entropy of each judgement against the analyzer's share (B, 4) in [0, 1], plus a
    ranking loss within each run of `group` rows (one prompt's candidates): the cross-entropy of the
    softmax of their scores against the softmax of their rewards. Picking needs only the ranking
    within a prompt; with the first term alone the critic spent itself on which prompts are hard
    (on 48 seen prompts, the best of 8 by its score had one region per object in 44% of
    object-frames, against 76% with the ranking term and 32% for one candidate)."""
    logits = critic(picture, text, text_mask)
    score = F.logsigmoid(logits).sum(dim=1).reshape(-1, group)
    reward = (targets * torch.tensor(REWARD, device=targets.device)).sum(dim=1).reshape(-1, group)
    ranking = -(torch.softmax(reward / RANK_TEMPERATURE, dim=1) * torch.log_softmax(score, dim=1)).sum(dim=1).mean()
    return F.binary_cross_entropy_with_logits(logits, targets) + ranking
