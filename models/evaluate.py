"""Measures a trained run with the reference sampler and writes the figures the model card shows.

    /usr/bin/python3 models/evaluate.py --run runs/cpu --out models/default/card

What it measures (livegen.analyze says how a frame is judged):
- autoencoder reconstruction PSNR on held-out clips;
- prompt adherence per frame on seen and on held-out prompts (10 s each), with the renderer's
  own frames of the same prompts as the ceiling, those frames through the autoencoder as the
  ceiling any denoiser can reach with this decoder, and the model with its history cut to the
  newest frame alone as an ablation;
- steering: a colour edit mid-video: frames until the new colour holds, and how far the object
  moved across the edit (continuity);
- long horizon: adherence in the last 10 s of a 60 s rollout against its first 10 s;
- first frames from text: the first latent frame alone of many more seen prompts, where the model
  has no history to copy and must place each object itself (judged over its video frames).
Writes quality.json and contact sheets to --out (GIFs too, to --gifs).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

from export_onnx import load_critic, load_run
from livegen import analyze, media, pyramid, world
from livegen.layers import use_cpu_cores
from livegen.sampler import GUIDANCE, Generator
from livegen.text import default_tokenizer
from livegen.vae import StreamingDecoder


SHEET_SCALE = 0.5  # contact sheets at half size keep the model directory small
FIRST_FRAME_SHEET = 16  # first frames shown, eight to a row


def prompt_set(n: int, heldout_split: bool, seed: int) -> list[tuple[world.Scene, str]]:
    rng = np.random.default_rng(seed)
    heldout = world.load_heldout()
    out = []
    for _ in range(n):
        scene = world.sample_scene(rng, heldout, want_heldout=heldout_split)
        out.append((scene, world.caption(scene, rng)))
    return out


def summary(results: dict) -> dict:
    """The results as a terminal shows them: the means, without the steering table or each clip's figures."""
    def trim(v):
        return {k: trim(x) for k, x in v.items() if k != "byClip"} if isinstance(v, dict) else v
    return {k: trim(v) for k, v in results.items() if k != "steering"}


def to_hwc(frames: torch.Tensor) -> np.ndarray:
    return frames.permute(0, 2, 3, 1).numpy()


def progress(label: str):
    """A progress callback for Generator.generate_many: one line on stderr, rewritten in place."""
    def report(done: int, total: int) -> None:
        print(f"\r{label}: latent frame {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)
    return report


def mean_report(reports: list[analyze.ClipReport]) -> dict:
    """The mean of each measure over clips, and each clip's own (byClip), which intervals and
    paired comparisons need (livegen/stats.py)."""
    keys = [k for k in reports[0].as_dict() if k != "frames"]
    return {"clips": len(reports), "frames": sum(r.frames for r in reports),
            **{k: round(float(np.mean([getattr(r, k) for r in reports])), 4) for k in keys},
            "byClip": {k: [round(getattr(r, k), 4) for r in reports] for k in keys}}


@torch.no_grad()
def vae_psnr(vae, size: int, fps: float, clips: int = 12) -> float:
    heldout = world.load_heldout()
    rng = np.random.default_rng(4242)
    errs = []
    for _ in range(clips):
        scene = world.sample_scene(rng, heldout, want_heldout=True)
        video = world.render(scene, 16, size, fps, float(rng.uniform(0, 30)))[None].float() / 127.5 - 1
        recon = vae.decode_clip(vae.encode(video)).clamp(-1, 1)
        errs.append(((recon - video) * 127.5).pow(2).mean().item())
    return 10 * math.log10(255**2 / float(np.mean(errs)))


@torch.no_grad()
def autoencoded(vae, frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (N, 3, H, W) encoded and decoded by the autoencoder, as uint8."""
    video = frames[None].float() / 127.5 - 1
    return ((vae.decode_clip(vae.encode(video)).clamp(-1, 1)[0] + 1) * 127.5).round().to(torch.uint8)


def edited(scene: world.Scene, rng: np.random.Generator) -> tuple[world.Scene, str]:
    """The scene with its first object in another colour (not the background's nor the other object's)."""
    taken = {scene.background} | {o.color for o in scene.objects}
    colour = [c for c in world.COLORS if c not in taken][int(rng.integers(len(world.COLORS) - len(taken)))]
    first = world.ObjectSpec(scene.objects[0].shape, scene.objects[0].size, colour, scene.objects[0].motion)
    new = world.Scene(scene.background, (first,) + scene.objects[1:], scene.shading, scene.starts, scene.bounce_signs)
    return new, world.caption(new)


def steering(frames: np.ndarray, before: str, after: str, edit_frame: int) -> dict:
    """Frames from the edit until the edited object shows its new colour, and its jump in place."""
    prompts = [before] * edit_frame + [after] * (len(frames) - edit_frame)
    _, per_frame = analyze.analyze_clip(frames, before, prompts)
    old_bg, old_objects = world.parse_caption(before)
    pos_before = analyze.analyze_frame(frames[edit_frame - 1], old_bg, old_objects).objects[0]["centroid"]
    _, new_objects = world.parse_caption(after)
    for t in range(edit_frame, len(frames)):
        if per_frame[t]["objects"][0]["present"]:
            pos = analyze.analyze_frame(frames[t], old_bg, new_objects).objects[0]["centroid"]
            jump = None
            if pos_before is not None:
                d = np.abs(pos - pos_before)
                d = np.minimum(d, frames.shape[1] - d)
                jump = float(np.hypot(*d))
            return {"frames_to_effect": t - edit_frame, "jump_px": jump}
    return {"frames_to_effect": None, "jump_px": None}


def critic_picks(run: str, info: dict, text, dit) -> dict:
    """Generator arguments that pick a stream's first frame with the run's critic, as its exported
    model would; none where the run has no critic for this denoiser."""
    critic = load_critic(run, info, text, dit)
    return {"critic": critic, "candidates": info["config"]["first_frame_candidates"]} if critic is not None else {}


def main(args: argparse.Namespace) -> None:
    use_cpu_cores()
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    if args.gifs:
        os.makedirs(args.gifs, exist_ok=True)
    info, text, dit, vae = load_run(args.run)
    size, fps = info["config"]["size"], info["config"]["fps"]
    T = vae.cfg.frames_per_latent
    sp, tp = pyramid.SpatialPyramid(), pyramid.TemporalPyramid()
    picks = critic_picks(args.run, info, text, dit)
    gen = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), sp, tp, guidance=args.guidance, **picks)
    one_frame = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), sp,
                          pyramid.TemporalPyramid(levels=((1, 1),), noise=tp.noise), guidance=args.guidance, **picks)
    n_latent = int(args.seconds * fps / T)
    results: dict = {"run": args.run, "trainingSteps": info["steps"], "guidance": args.guidance, "firstFrameCandidates": gen.candidates,
                     "secondsPerClip": args.seconds, "size": size, "fps": fps}
    results["vaePsnrHeldout"] = round(vae_psnr(vae, size, fps), 2)
    print(f"vae psnr (held-out clips): {results['vaePsnrHeldout']} dB", flush=True)

    for split, heldout_split, seed in (("seen", False, 11), ("heldout", True, 12)):
        prompts = prompt_set(args.prompts, heldout_split, seed)
        seeds = [100 + i for i in range(len(prompts))]
        _, clips = gen.generate_many([[(0, p)] for _, p in prompts], n_latent, seeds, progress(f"{split} prompts"))
        reports, ceiling, through_vae, sheet = [], [], [], []
        for i, ((scene, prompt), frames) in enumerate(zip(prompts, clips)):
            report, _ = analyze.analyze_clip(to_hwc(frames), prompt)
            reports.append(report)
            truth = world.render(scene, n_latent * T, size, fps)
            ceiling.append(analyze.analyze_clip(to_hwc(truth), prompt)[0])
            through_vae.append(analyze.analyze_clip(to_hwc(autoencoded(vae, truth)), prompt)[0])
            if i < 4:
                sheet.append(frames[: 8 * 6 : 6])
            if i < 2 and args.gifs:
                media.gif(frames[: 4 * int(fps)], os.path.join(args.gifs, f"{split}_{i}.gif"), fps)
            print(f"{split} {i}: {prompt!r}: passed {report.passed:.2f} coherent {report.coherent:.2f}", flush=True)
        media.contact_sheet(sheet, os.path.join(args.out, f"{split}.png"), scale=SHEET_SCALE)
        results[split] = mean_report(reports)
        results[split]["ceiling"] = mean_report(ceiling)
        results[split]["autoencoder"] = mean_report(through_vae)
        if split == "seen" and args.ablation_prompts:
            cut_prompts = prompts[: args.ablation_prompts]
            _, cut = one_frame.generate_many([[(0, p)] for _, p in cut_prompts], n_latent, seeds[: len(cut_prompts)],
                                         progress("ablation"))
            results["ablationOneFrameHistory"] = mean_report(
                [analyze.analyze_clip(to_hwc(frames), p)[0] for (_, p), frames in zip(cut_prompts, cut)])
            results["ablationFullModelSamePrompts"] = mean_report(reports[: len(cut_prompts)])
        if args.ablation_prompts and args.guidance_ablation:
            # The shipped guidance against others on the split's first prompts, same seeds.
            n = min(args.ablation_prompts, len(prompts))
            by_weight = {f"{args.guidance:g}": mean_report(reports[:n])}
            for w in args.guidance_ablation:
                other = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), sp, tp, guidance=w, **picks)
                _, cut = other.generate_many([[(0, p)] for _, p in prompts[:n]], n_latent, seeds[:n], progress(f"{split} guidance {w:g}"))
                by_weight[f"{w:g}"] = mean_report([analyze.analyze_clip(to_hwc(frames), p)[0] for (_, p), frames in zip(prompts[:n], cut)])
            results[split]["byGuidance"] = by_weight

    edits, sheet = [], []
    rng = np.random.default_rng(13)
    edit_latent = n_latent // 2
    prompts = prompt_set(args.edit_prompts, False, 14)
    afters = [edited(scene, rng)[1] for scene, _ in prompts]
    _, clips = gen.generate_many([[(0, p), (edit_latent, a)] for (_, p), a in zip(prompts, afters)], n_latent,
                                 [200 + i for i in range(len(prompts))], progress("edits"))
    for i, ((_, prompt), after, frames) in enumerate(zip(prompts, afters, clips)):
        edits.append({"before": prompt, "after": after, **steering(to_hwc(frames), prompt, after, edit_latent * T)})
        if i < 4:
            sheet.append(frames[(edit_latent - 2) * T: (edit_latent + 4) * T: 3])
        if i < 2 and args.gifs:
            media.gif(frames[(edit_latent * T - 2 * int(fps)): edit_latent * T + 2 * int(fps)], os.path.join(args.gifs, f"edit_{i}.gif"), fps)
        print(f"edit {i}: {edits[-1]}", flush=True)
    media.contact_sheet(sheet, os.path.join(args.out, "edit.png"), scale=SHEET_SCALE)
    took = [e["frames_to_effect"] for e in edits if e["frames_to_effect"] is not None]
    jumps = [e["jump_px"] for e in edits if e["jump_px"] is not None]
    results["steering"] = {"edits": edits, "applied": len(took) / len(edits),
                           "medianFramesToEffect": float(np.median(took)) if took else None,
                           "medianJumpPx": float(np.median(jumps)) if jumps else None}

    if args.first_frame_prompts:
        prompts = prompt_set(args.first_frame_prompts, False, 16)
        _, clips = gen.generate_many([[(0, p)] for _, p in prompts], 1, [400 + i for i in range(len(prompts))],
                                     progress("first frames"))
        results["firstFrames"] = mean_report([analyze.analyze_clip(to_hwc(frames), p)[0] for (_, p), frames in zip(prompts, clips)])
        if picks:  # the same prompts and seeds, one candidate each: what the critic's pick adds
            single = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), sp, tp, guidance=args.guidance)
            _, alone = single.generate_many([[(0, p)] for _, p in prompts], 1, [400 + i for i in range(len(prompts))],
                                            progress("first frames, one candidate"))
            results["firstFramesOneCandidate"] = mean_report([analyze.analyze_clip(to_hwc(f), p)[0] for (_, p), f in zip(prompts, alone)])
        firsts = clips[:FIRST_FRAME_SHEET, 0]
        media.contact_sheet([firsts[i: i + 8] for i in range(0, len(firsts), 8)], os.path.join(args.out, "first.png"), scale=SHEET_SCALE)
        print(f"first frames: coherent {results['firstFrames']['coherent']:.2f}, "
              f"object once {results['firstFrames']['objects_present']:.2f}", flush=True)

    long_latent = int(args.long_seconds * fps / T)
    window = int(10 * fps)
    first, last, sheet = [], [], []
    prompts = prompt_set(args.long_prompts, False, 15)
    _, clips = gen.generate_many([[(0, p)] for _, p in prompts], long_latent, [300 + i for i in range(len(prompts))],
                                 progress("long rollouts"))
    for i, ((_, prompt), frames) in enumerate(zip(prompts, clips)):
        hwc = to_hwc(frames)
        first.append(analyze.analyze_clip(hwc[:window], prompt)[0])
        last.append(analyze.analyze_clip(hwc[-window:], prompt)[0])
        sheet.append(frames[:: len(frames) // 10])
        print(f"long {i}: first 10 s passed {first[-1].passed:.2f}, last 10 s {last[-1].passed:.2f}", flush=True)
    media.contact_sheet(sheet, os.path.join(args.out, "long.png"), scale=SHEET_SCALE)
    results["longHorizon"] = {"seconds": args.long_seconds, "first10s": mean_report(first), "last10s": mean_report(last)}
    results["wallSeconds"] = round(time.time() - t0, 1)
    with open(os.path.join(args.out, "quality.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(summary(results), indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/cpu")
    parser.add_argument("--out", default="models/default/card")
    parser.add_argument("--guidance", type=float, default=GUIDANCE)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each seen / held-out clip")
    parser.add_argument("--prompts", type=int, default=8, help="prompts per split")
    parser.add_argument("--ablation-prompts", type=int, default=4)
    parser.add_argument("--edit-prompts", type=int, default=24)
    parser.add_argument("--guidance-ablation", type=float, nargs="*", default=[3.0],
                        help="other guidance weights to compare on the first --ablation-prompts prompts of each split")
    parser.add_argument("--first-frame-prompts", type=int, default=96,
                        help="seen prompts whose first latent frame alone is judged (0: skip)")
    parser.add_argument("--long-prompts", type=int, default=2)
    parser.add_argument("--long-seconds", type=float, default=60.0)
    parser.add_argument("--gifs", help="also write GIFs of some clips to this directory")
    main(parser.parse_args())
