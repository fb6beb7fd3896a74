"""The analyzer's side of `npx livegen quality`: which clips to generate, and their scores.

    /usr/bin/python3 models/quality.py plan --out plan.json [--long-minutes 10]
    /usr/bin/python3 models/quality.py score --plan plan.json --frames DIR --json out.json --doc docs/QUALITY.md
    /usr/bin/python3 models/quality.py compare BASE.json NEW.json
    /usr/bin/python3 models/quality.py generate --run runs/X --plan plan.json --frames DIR

`plan` lists the clips (seen and held-out prompts, mid-video colour edits, one long run) with
their seeds, prompt logs and the video frames to keep; the TypeScript engine generates them and
writes each clip's kept frames as raw RGB (`<name>.rgb`). `score` judges them with
livegen.analyze, against the renderer's own frames of the same prompts as the ceiling, and
writes the JSON and docs/QUALITY.md. `compare` sets two such JSON files of the same plan side by
side, clip by clip (livegen/stats.py): the difference of each measure with its 95% interval, so
that a change is told from the spread of a few clips. `generate` writes the same frames with the
PyTorch reference sampler from a training run (the engine's noise, clip for clip), so that a run
the engine cannot load, or one not yet exported, is judged on the same plan and compared with
`compare`; `score --engine reference` labels its figures.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from evaluate import critic_picks, edited, mean_report, progress, prompt_set, steering, summary
from export_onnx import load_run
from livegen import analyze, pyramid, stats, world
from livegen.layers import use_cpu_cores
from livegen.sampler import Generator
from livegen.text import default_tokenizer
from livegen.vae import StreamingDecoder
from model_card import CHECK, adherence_table, pct, steering_section

FPS = 16
FRAMES_PER_LATENT = 4
SIZE = 256
SPLITS = (("seen", "seen prompts"), ("heldout", "held-out prompts"))
COMPARED = (("passed", "pass"), ("coherent", "coherent"), ("objects_present", "object once"), ("shape", "shape"),
            ("size", "size"), ("motion", "motion"), ("no_extra", "no stray blobs"))
HEADLINE = COMPARED[:4]  # the measures whose intervals docs/QUALITY.md gives
ENGINES = {"typescript": "TypeScript (onnxruntime-node)", "reference": "PyTorch reference sampler"}
MADE_BY = {
    "typescript": "Measured by `npx livegen quality`: the TypeScript engine generates every clip with the shipped\n"
                  "ONNX model ({model}), exactly as the server does, and `models/quality.py` judges the frames.",
    "reference": "Measured by `models/quality.py generate` and `score`: the PyTorch reference sampler generates\n"
                 "every clip from the training run {model}, and `models/quality.py` judges the frames.",
}


def plan(args: argparse.Namespace) -> None:
    n_latent = int(args.seconds * FPS / FRAMES_PER_LATENT)
    clips = []
    for split, heldout_split, seed in (("seen", False, 11), ("heldout", True, 12)):
        for i, (_, prompt) in enumerate(prompt_set(args.prompts, heldout_split, seed)):
            clips.append({"name": f"{split}_{i}", "kind": split, "seed": 100 + i, "latentFrames": n_latent,
                          "prompts": [{"text": prompt, "effectiveFrom": 0}], "keep": [[0, n_latent * FRAMES_PER_LATENT]]})
    rng = np.random.default_rng(13)
    edit_latent = n_latent // 2
    for i, (scene, prompt) in enumerate(prompt_set(args.edit_prompts, False, 14)):
        _, after = edited(scene, rng)
        clips.append({"name": f"edit_{i}", "kind": "edit", "seed": 200 + i, "latentFrames": n_latent,
                      "prompts": [{"text": prompt, "effectiveFrom": 0}, {"text": after, "effectiveFrom": edit_latent}],
                      "keep": [[0, n_latent * FRAMES_PER_LATENT]]})
    long_latent = int(args.long_minutes * 60 * FPS / FRAMES_PER_LATENT)
    total = long_latent * FRAMES_PER_LATENT
    window = min(60 * FPS, total // 2)
    for i, (_, prompt) in enumerate(prompt_set(1, False, 15)):
        clips.append({"name": f"long_{i}", "kind": "long", "seed": 300 + i, "latentFrames": long_latent,
                      "prompts": [{"text": prompt, "effectiveFrom": 0}], "keep": [[0, window], [total - window, total]]})
    with open(args.out, "w") as f:
        json.dump({"seconds": args.seconds, "prompts": args.prompts, "longMinutes": args.long_minutes, "clips": clips}, f, indent=2)


def generate(args: argparse.Namespace) -> None:
    """Each clip of the plan through the reference sampler, written as the engine writes it."""
    use_cpu_cores()
    with open(args.plan) as f:
        p = json.load(f)
    info, text, dit, vae = load_run(args.run)
    if info["config"]["size"] != SIZE or info["config"]["fps"] != FPS or vae.cfg.frames_per_latent != FRAMES_PER_LATENT:
        raise SystemExit(f"{args.run}: the quality plan judges the default world at {SIZE}x{SIZE}, {FPS} fps, {FRAMES_PER_LATENT} frames per latent frame")
    gen = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), pyramid.SpatialPyramid(), pyramid.TemporalPyramid(),
                    **critic_picks(args.run, info, text, dit))
    write_clips(gen, p["clips"], args.frames, args.batch)


def write_clips(gen: Generator, clips: list[dict], frames_dir: str, batch_size: int) -> None:
    """Each clip's kept video frames as raw RGB, `<name>.rgb` in frames_dir, as the engine writes them."""
    os.makedirs(frames_dir, exist_ok=True)
    # Clips of one kind share a length and run as one batch: each draws its own seed's noise, so a
    # clip's frames do not depend on the batch it ran in.
    groups: dict[tuple[str, int], list[dict]] = {}
    for clip in clips:
        groups.setdefault((clip["kind"], clip["latentFrames"]), []).append(clip)
    for (kind, n_latent), group in groups.items():
        for at in range(0, len(group), batch_size):
            batch = group[at : at + batch_size]
            schedules = [[(q["effectiveFrom"], q["text"]) for q in c["prompts"]] for c in batch]
            _, frames = gen.generate_many(schedules, n_latent, [c["seed"] for c in batch], progress(f"{kind} clips {at + 1}-{at + len(batch)}"))
            for clip, video in zip(batch, frames):
                kept = np.concatenate([video[a:b].permute(0, 2, 3, 1).numpy() for a, b in clip["keep"]])
                kept.tofile(os.path.join(frames_dir, clip["name"] + ".rgb"))


def load_frames(path: str, keep: list[list[int]]) -> np.ndarray:
    frames = np.fromfile(path, dtype=np.uint8)
    n = sum(b - a for a, b in keep)
    if frames.size != n * SIZE * SIZE * 3:
        raise SystemExit(f"{path}: {frames.size} bytes, expected {n} frames of {SIZE}x{SIZE} RGB")
    return frames.reshape(n, SIZE, SIZE, 3)


def failing_spans(failed: list[bool], first_frame: int) -> list[list[int]]:
    """The runs of consecutive failing frames, as [first, end) video-frame numbers counted from first_frame."""
    spans: list[list[int]] = []
    for i, bad in enumerate(failed):
        if not bad:
            continue
        if spans and spans[-1][1] == first_frame + i:
            spans[-1][1] += 1
        else:
            spans.append([first_frame + i, first_frame + i + 1])
    return spans


def broken_scene_line(long_horizon: dict) -> str:
    """Where in the long run the scene itself breaks: a wrong background or a stray region is a
    whole-frame fault, and when it happens (a burst, a period, a drift) says more than how often."""
    spans = [s for clip in long_horizon["sceneBroken"] for s in clip]
    if not spans:
        return "No frame of the long run judged here has a wrong background or a stray region."
    shown = ", ".join(f"{a / FPS:.2f}-{b / FPS:.2f} s" for a, b in spans[:12])
    more = f" and {len(spans) - 12} more" if len(spans) > 12 else ""
    frames = sum(b - a for a, b in spans)
    return f"Frames of the long run with a wrong background or a stray region ({frames} in all), by time in the run: {shown}{more}."


def score(args: argparse.Namespace) -> None:
    if args.doc is None:
        if args.engine != "typescript":
            raise SystemExit("score --engine reference: give --doc; docs/QUALITY.md is the engine's page")
        args.doc = "docs/QUALITY.md"
    with open(args.plan) as f:
        p = json.load(f)
    results: dict = {"engine": ENGINES[args.engine], "model": args.model, "secondsPerClip": p["seconds"]}
    by_kind: dict[str, list] = {}
    for clip in p["clips"]:
        by_kind.setdefault(clip["kind"], []).append(clip)
    for split, heldout_split, seed in (("seen", False, 11), ("heldout", True, 12)):
        reports, ceiling = [], []
        # The same draw as `plan`, for the scenes behind the prompts: the renderer's frames of them are the ceiling.
        for clip, (scene, prompt) in zip(by_kind[split], prompt_set(p["prompts"], heldout_split, seed)):
            assert prompt == clip["prompts"][0]["text"], "the plan was made with other settings"
            frames = load_frames(os.path.join(args.frames, clip["name"] + ".rgb"), clip["keep"])
            reports.append(analyze.analyze_clip(frames, prompt)[0])
            truth = world.render(scene, len(frames), SIZE, FPS)
            ceiling.append(analyze.analyze_clip(truth.permute(0, 2, 3, 1).numpy(), prompt)[0])
        results[split] = mean_report(reports)
        results[split]["ceiling"] = mean_report(ceiling)
        results[split]["prompts"] = [c["prompts"][0]["text"] for c in by_kind[split]]
        results[split]["seeds"] = [c["seed"] for c in by_kind[split]]
    edits = []
    for clip in by_kind["edit"]:
        frames = load_frames(os.path.join(args.frames, clip["name"] + ".rgb"), clip["keep"])
        before, after = clip["prompts"][0]["text"], clip["prompts"][1]["text"]
        edits.append({"before": before, "after": after, **steering(frames, before, after, clip["prompts"][1]["effectiveFrom"] * FRAMES_PER_LATENT)})
    took = [e["frames_to_effect"] for e in edits if e["frames_to_effect"] is not None]
    jumps = [e["jump_px"] for e in edits if e["jump_px"] is not None]
    results["steering"] = {"edits": edits, "applied": len(took) / len(edits),
                           "medianFramesToEffect": float(np.median(took)) if took else None,
                           "medianJumpPx": float(np.median(jumps)) if jumps else None}
    first, last, broken = [], [], []
    for clip in by_kind["long"]:
        frames = load_frames(os.path.join(args.frames, clip["name"] + ".rgb"), clip["keep"])
        half = len(frames) // 2
        prompt = clip["prompts"][0]["text"]
        spans = []
        for (start, _), part, reports in ((clip["keep"][0], frames[:half], first), (clip["keep"][1], frames[half:], last)):
            report, per_frame = analyze.analyze_clip(part, prompt)
            reports.append(report)
            spans += failing_spans([not f["background"] or f["extra"] > 0 for f in per_frame], start)
        broken.append(spans)
    results["longHorizon"] = {"minutes": p["longMinutes"], "firstMinute": mean_report(first), "lastMinute": mean_report(last),
                              "sceneBroken": broken}
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    table = adherence_table({**results, "longHorizon": {"seconds": p["longMinutes"] * 60, "first10s": results["longHorizon"]["firstMinute"],
                                                         "last10s": results["longHorizon"]["lastMinute"]}})
    table = table.replace("s rollout, first 10 s", "s run, first minute").replace("s rollout, last 10 s", "s run, last minute")
    doc = f"""# Quality

{MADE_BY[args.engine].format(model=args.model)}
{len(by_kind['seen'])} seen and {len(by_kind['heldout'])} held-out prompts of {p['seconds']:.0f} s, {len(edits)} mid-video colour
edits, and one {p['longMinutes']:g}-minute run judged on its first and last minute. The renderer's own
frames of the same prompts are the ceiling. The model card ([models/default/README.md](../models/default/README.md))
has the same measures from the PyTorch reference sampler, with the history ablation.

{CHECK}

## Prompt adherence

{table}

{uncertainty(results)}

{broken_scene_line(results['longHorizon'])}

## Steering

{steering_section(results)}

Pass rate over everything judged: seen {pct(results['seen']['passed'])}, held-out {pct(results['heldout']['passed'])},
last minute of the long run {pct(results['longHorizon']['lastMinute']['passed'])}.
"""
    with open(args.doc, "w") as f:
        f.write(doc)
    print(json.dumps(summary(results), indent=2))


def uncertainty(results: dict) -> str:
    """The 95% intervals of the headline figures over clips: how far a few clips pin them down."""
    parts = []
    for split, name in SPLITS:
        clips = results[split]["byClip"]
        spans = ", ".join(f"{label} {span(stats.interval(clips[key]))}" for key, label in HEADLINE)
        parts.append(f"{name}: {spans}")
    return ("Each figure is a mean over clips, whose frames are not independent; 95% intervals over the "
            f"{results['seen']['clips']} clips of each split (bootstrap): " + "; ".join(parts) + ".")


def span(lo_hi: tuple[float, float]) -> str:
    return f"{100 * lo_hi[0]:.1f}-{100 * lo_hi[1]:.1f}%"


def compare(args: argparse.Namespace) -> None:
    """A markdown table of NEW against BASE, clip by clip on the same prompts and seeds."""
    with open(args.base) as f:
        base = json.load(f)
    with open(args.new) as f:
        new = json.load(f)
    lines = [f"{new.get('model', args.new)} against {base.get('model', args.base)}, clip by clip "
             "(difference of the means, its 95% interval, clips better / same / worse):", "",
             "| frames of | measure | base | new | difference | 95% interval | clips + / = / - |", "|---|---|---|---|---|---|---|"]
    for split, name in SPLITS:
        for key in ("prompts", "seeds"):
            if base[split].get(key) != new[split].get(key):
                raise SystemExit(f"compare: the two runs judged other {name} ({key} differ): run both with the same quality plan")
        for key, label in COMPARED:
            d = stats.paired_difference(new[split]["byClip"][key], base[split]["byClip"][key])
            lines.append(f"| {name} | {label} | {pct(base[split][key])} | {pct(new[split][key])} | {100 * d['mean']:+.1f} pp | "
                         f"{100 * d['interval'][0]:+.1f} to {100 * d['interval'][1]:+.1f} pp | {d['better']} / {d['same']} / {d['worse']} |")
    for key, label in (("firstMinute", "long run, first minute"), ("lastMinute", "long run, last minute")):
        b, n = base["longHorizon"][key], new["longHorizon"][key]
        lines.append(f"| {label} | pass | {pct(b['passed'])} | {pct(n['passed'])} | {100 * (n['passed'] - b['passed']):+.1f} pp | one clip | |")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--edit-prompts", type=int, default=24)
    p.add_argument("--long-minutes", type=float, default=10.0)
    s = sub.add_parser("score")
    s.add_argument("--plan", required=True)
    s.add_argument("--frames", required=True)
    s.add_argument("--json", required=True)
    s.add_argument("--doc", help="the quality page to write (default docs/QUALITY.md, for the engine's frames)")
    s.add_argument("--model", default="models/default")
    s.add_argument("--engine", choices=sorted(ENGINES), default="typescript", help="what generated the frames")
    c = sub.add_parser("compare", help="NEW against BASE, two `score` JSON files of the same plan, clip by clip")
    c.add_argument("base")
    c.add_argument("new")
    g = sub.add_parser("generate", help="the plan's clips through the reference sampler, from a training run")
    g.add_argument("--run", required=True)
    g.add_argument("--plan", required=True)
    g.add_argument("--frames", required=True)
    g.add_argument("--batch", type=int, default=24, help="clips generated as one batch")
    args = parser.parse_args()
    {"plan": plan, "score": score, "compare": compare, "generate": generate}[args.command](args)
