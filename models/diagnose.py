"""Where does a trained denoiser go wrong? A diagnosis on the run's own training clips.

    /usr/bin/python3 models/diagnose.py --run runs/cpu --json diagnosis.json

The quality check (evaluate.py) judges free-running clips, where every error compounds, so it
cannot tell a bad first frame from a bad continuation. This command separates them:
- teacher forcing: latent frame k of each clip is sampled from the clip's true history (the model
  never sees a frame of its own), decoded and judged per frame as the quality check judges,
  beside the true latent decoded the same way (the autoencoder's ceiling). Its latent error is
  set against copying the previous latent, the baseline any continuation must beat; and where
  the model puts the first object against where the true frame has it, set against leaving it
  where it was (objects move about 12 px per latent frame). The same frame drawn again with the
  spatial pyramid entered at a later stage from the true frame's own layout at that scale tells
  which stages lose what: a stage whose true layout lifts the figures is one that gets it wrong.
  Fresh clips drawn again under a caption edited in one way (`world.swapped`: background, colours or
  shapes), against the edited scene's own frame, show which of the prompt's words the model reads;
- from a true start: the same clips run free from their true first latent frame, judged in
  windows, so a continuation that fades or drifts shows apart from a poor first frame.
`--checkpoint` compares another denoiser checkpoint of the same run.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from export_onnx import load_run
from livegen import analyze, world
from livegen.pyramid import SpatialPyramid, TemporalPyramid
from livegen.runlog import load
from livegen.layers import use_cpu_cores
from livegen.sampler import GUIDANCE, Generator, from_layout, seeded_noise
from livegen.text import default_tokenizer
from livegen.train_denoiser import scene_from_dict
from livegen.vae import StreamingDecoder


FIGURES = {"objectOnce": "objects_present", "shape": "shape", "size": "size", "motion": "motion", "noStray": "no_extra",
           "coherent": "coherent", "passed": "passed"}  # JSON name: analyze.ClipReport field


def judge(frames: np.ndarray, prompts: list[str]) -> list[tuple[analyze.ClipReport, list[dict]]]:
    """The quality check of (B, T, H, W, 3) frames, clip b captioned prompts[b]: per clip, its
    report and per-frame results."""
    return [analyze.analyze_clip(clip, p) for clip, p in zip(frames, prompts)]


def figures(judged: list[tuple[analyze.ClipReport, list[dict]]]) -> dict:
    """The quality check's fractions of judged clips, averaged over clips."""
    return {name: float(np.mean([getattr(report, field) for report, _ in judged])) for name, field in FIGURES.items()}


def scores(frames: np.ndarray, prompts: list[str]) -> dict:
    """The quality check's fractions for (B, T, H, W, 3) frames, clip b captioned prompts[b], averaged over clips."""
    return figures(judge(frames, prompts))


def shapes_by_kind(judged: list[tuple[analyze.ClipReport, list[dict]]], prompts: list[str]) -> dict[str, float]:
    """The shape figure of judged clips split by the kind of prompt object ("small square", ...),
    over its object-frames as the quality check counts them (an object not drawn as one region is
    wrong): a decoder that blurs edges loses small squares' corners and small triangles' points first."""
    right: dict[str, int] = {}
    seen: dict[str, int] = {}
    for (_, per_frame), prompt in zip(judged, prompts):
        _, objects = world.parse_caption(prompt)
        for frame in per_frame:
            for spec, result in zip(objects, frame["objects"]):
                kind = f"{spec.size} {spec.shape}"
                seen[kind] = seen.get(kind, 0) + 1
                right[kind] = right.get(kind, 0) + bool(result["shape"])
    return {kind: right[kind] / seen[kind] for kind in sorted(seen)}


def percentages(figures: dict) -> str:
    return " ".join(f"{k} {100 * v:.1f}%" for k, v in figures.items())


def displacement(before: np.ndarray, true: np.ndarray, model: np.ndarray, prompts: list[str]) -> dict | None:
    """Where the first object of each clip moves from `before` to `true`, and where the model puts it
    instead; frames (B, H, W, 3). Judged over objects that move (over 2 px) and that both the true
    and the model's frame show as one region. Positions wrap round the frame, as the world does."""
    side = before.shape[1]
    moves = []
    for b, prompt in enumerate(prompts):
        background, objects = world.parse_caption(prompt)
        at = [analyze.analyze_frame(f[b], background, objects).objects[0].get("centroid") for f in (before, true, model)]
        if any(p is None for p in at):
            continue
        step, got = ((p - at[0] + side / 2) % side - side / 2 for p in at[1:])
        if np.hypot(*step) > 2:
            moves.append((step, got))
    if not moves:
        return None
    return {"objects": len(moves),  # standing still would err by the true step
            "trueStepPx": float(np.median([np.hypot(*t) for t, _ in moves])),
            "modelStepPx": float(np.median([np.hypot(*m) for _, m in moves])),
            "errorPx": float(np.median([np.hypot(*(m - t)) for t, m in moves])),
            "rightDirection": float(np.mean([np.dot(t, m) > 0.7 * np.hypot(*t) * np.hypot(*m) for t, m in moves]))}


def prompt_reading(gen: Generator, scenes: list[world.Scene], starts: list[float], seeds: list[int], k: int,
                   size: int, fps: float) -> dict[str, dict[str, float]]:
    """How far a draw follows each kind of edit in its prompt. The scenes are rendered from `starts`
    (seconds) and encoded; latent frame k is drawn from their true history under each scene's
    caption and under its edited scene's (`world.swapped`), with the same noise, and the draw's change
    is set against the truth's, the edited scene's encoded frame less the scene's. `followed` is
    the regression of the one on the other (1: the draw changes as the truth does; 0: the word is
    ignored), `moved` the ratio of their squared sizes. Captions take the first synonym, so that
    the edited words are the only change."""
    vae = gen.decoder.vae
    first = max(0, k - gen.temporal.frames)  # each latent frame encodes its own video frames: the history's are enough
    t = vae.cfg.frames_per_latent

    def encoded(frames_of: list[world.Scene]) -> torch.Tensor:
        video = torch.stack([world.render(s, (k + 1 - first) * t, size, fps, t0 + first * t / fps) for s, t0 in zip(frames_of, starts)])
        return vae.encode(video.float().div(127.5).sub(1))

    clips = encoded(scenes)
    past = [clips[:, j] for j in range(k - first)]
    plain = gen.latent_frame(past, gen.text([world.caption(s) for s in scenes]), seeds, k)
    reading = {}
    for kind in world.EDIT_KINDS:
        edited = [world.swapped(s, kind) for s in scenes]
        truth = encoded(edited)[:, -1] - clips[:, -1]
        drawn = gen.latent_frame(past, gen.text([world.caption(s) for s in edited]), seeds, k) - plain
        reading[kind] = {"followed": float((drawn * truth).sum() / (truth ** 2).sum()),
                         "moved": float((drawn ** 2).sum() / (truth ** 2).sum())}
    return reading


def layout_entries(gen: Generator, has_past: bool) -> list[int]:
    """The stages a frame can be entered at from its true layout: every one after the first, or a
    bridge continuation's last stage alone (it enters nowhere else)."""
    last = gen.spatial.stages - 1
    return [last] if gen.dit.cfg.continuation == "bridge" and has_past else list(range(1, last + 1))


def teacher_forced(gen: Generator, clips: torch.Tensor, prompts: list[str], text, seeds: list[int],
                   frames: list[int]) -> list[dict]:
    """clips (B, K, C, h, w) normalised latents."""
    rows = []
    for k in frames:
        past = [clips[:, j] for j in range(max(0, k - gen.temporal.frames), k)]
        sampled = gen.latent_frame(past, text, seeds, k)
        cache = gen.decoder.vae.denormalize(clips[:, k - 1]) if k > 0 else torch.zeros_like(sampled)
        model, _ = gen.decoder(sampled, cache)
        true, _ = gen.decoder(clips[:, k], cache)
        from_true_layout = {}
        for stage in layout_entries(gen, bool(past)):
            drawn = from_layout(gen.dit, gen.spatial, gen.temporal, past, clips[:, k], stage, text, seeded_noise(seeds, k))
            from_true_layout[str(stage)] = scores(gen.decoder(drawn, cache)[0].numpy(), prompts)
        motion = None
        if k > 0:
            before_cache = gen.decoder.vae.denormalize(clips[:, k - 2]) if k > 1 else torch.zeros_like(sampled)
            before, _ = gen.decoder(clips[:, k - 1], before_cache)
            motion = displacement(before[:, -1].numpy(), true[:, -1].numpy(), model[:, -1].numpy(), prompts)
        model_judged, true_judged = judge(model.numpy(), prompts), judge(true.numpy(), prompts)
        rows.append({
            "frame": k,
            "latentMse": {"model": float(((sampled - clips[:, k]) ** 2).mean()),
                          "copyPrevious": float(((clips[:, k - 1] - clips[:, k]) ** 2).mean()) if k > 0 else None},
            "model": figures(model_judged),
            "fromTrueLayoutAtStage": from_true_layout,
            "autoencoder": figures(true_judged),
            "shapeByKind": {"model": shapes_by_kind(model_judged, prompts), "autoencoder": shapes_by_kind(true_judged, prompts)},
            "motion": motion,
        })
    return rows


def from_true_start(gen: Generator, clips: torch.Tensor, prompts: list[str], text, seeds: list[int], n_latent: int,
                    window: int) -> list[dict]:
    """Free-running clips whose first latent frame is the true one, judged per window of latent frames."""
    past = [clips[:, 0]]
    rgb, cache = gen.decoder(clips[:, 0], torch.zeros_like(clips[:, 0]))
    video = [rgb]
    for k in range(1, n_latent):
        x = gen.latent_frame(past, text, seeds, k)
        past = (past + [x])[-gen.temporal.frames:]
        rgb, cache = gen.decoder(x, cache)
        video.append(rgb)
    frames = torch.cat(video, dim=1).numpy()  # (B, T, H, W, 3)
    per_latent = frames.shape[1] // n_latent
    rows = []
    for lo in range(0, n_latent, window):
        hi = min(n_latent, lo + window)
        rows.append({"latentFrames": [lo, hi], **scores(frames[:, lo * per_latent:hi * per_latent], prompts)})
    return rows


def main(args: argparse.Namespace) -> None:
    use_cpu_cores()
    info, text_encoder, dit, vae = load_run(args.run)
    step = info["steps"]
    if args.checkpoint:
        state = load(args.checkpoint)
        text_encoder.load_state_dict(state["ema_text"])
        dit.load_state_dict(state["ema_dit"])
        step = state["step"]
    dataset = load(os.path.join(args.run, "latents.pt"))
    n_clips, n_latent = dataset["latents"].shape[:2]
    index = np.linspace(0, n_clips - 1, args.clips).round().astype(int).tolist()
    clips = dataset["latents"][index].float()
    scenes = [scene_from_dict(dataset["scenes"][i]) for i in index]
    prompts = [world.caption(s, np.random.default_rng(i)) for i, s in zip(index, scenes)]
    seeds = [1000 + i for i in index]
    frames = sorted({k for k in args.frames if 0 <= k < n_latent})
    gen = Generator(default_tokenizer(), text_encoder, dit, StreamingDecoder(vae), SpatialPyramid(), TemporalPyramid(),
                    guidance=args.guidance)
    text = gen.text(prompts)
    result = {
        "run": args.run, "denoiserStep": step, "guidance": args.guidance, "clips": len(index),
        "teacherForced": teacher_forced(gen, clips, prompts, text, seeds, frames),
        "fromTrueStart": from_true_start(gen, clips, prompts, text, seeds, min(args.start_frames, n_latent), args.window),
    }
    # Edits need the truth after them: rendered afresh, since the latent dataset keeps no start times.
    rng, heldout = np.random.default_rng(0), world.load_heldout()
    fresh = [world.sample_scene(rng, heldout, want_heldout=False) for _ in index]
    starts = [float(rng.uniform(0, 60.0)) for _ in fresh]
    result["promptReading"] = [{"frame": k, **prompt_reading(gen, fresh, starts, seeds, k, info["config"]["size"], info["config"]["fps"])}
                               for k in frames]
    for row in result["teacherForced"]:
        copy = row["latentMse"]["copyPrevious"]
        print(f"frame {row['frame']:2d}: latent MSE {row['latentMse']['model']:.3f}"
              + (f" (copy {copy:.3f})" if copy is not None else "")
              + f"  model {percentages(row['model'])}  ceiling {percentages(row['autoencoder'])}", flush=True)
        for source, kinds in row["shapeByKind"].items():
            print(f"          shapes right by kind, {source}: {percentages(kinds)}", flush=True)
        for stage, figures in row["fromTrueLayoutAtStage"].items():
            print(f"          from the true layout at stage {stage}: {percentages(figures)}", flush=True)
        if row["motion"]:
            m = row["motion"]
            print(f"          first object, {m['objects']} moving: true step {m['trueStepPx']:.1f} px, model's {m['modelStepPx']:.1f} px, "
                  f"position error {m['errorPx']:.1f} px (standing still: {m['trueStepPx']:.1f}), "
                  f"right direction {100 * m['rightDirection']:.0f}%", flush=True)
    for row in result["fromTrueStart"]:
        (lo, hi), figures = row["latentFrames"], {k: v for k, v in row.items() if k != "latentFrames"}
        print(f"from a true start, latent frames {lo}-{hi}: {percentages(figures)}", flush=True)
    for row in result["promptReading"]:
        print(f"frame {row['frame']:2d}, edits followed (the draw's change regressed on the truth's; its squared size against the truth's): "
              + " ".join(f"{kind} {row[kind]['followed']:.2f} ({row[kind]['moved']:.2f})" for kind in world.EDIT_KINDS), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/cpu")
    parser.add_argument("--checkpoint", help="a denoiser checkpoint of the same run to diagnose instead of its last")
    parser.add_argument("--guidance", type=float, default=GUIDANCE)
    parser.add_argument("--clips", type=int, default=16, help="training clips, evenly spaced over the latent dataset")
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 1, 2, 4, 8], help="latent frames to sample teacher-forced")
    parser.add_argument("--start-frames", type=int, default=12, help="latent frames of each clip run free from its true start")
    parser.add_argument("--window", type=int, default=3, help="latent frames per judged window of those clips")
    parser.add_argument("--json", help="write the figures here")
    main(parser.parse_args())
