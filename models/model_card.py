"""Writes the model card (<model>/README.md) from what was measured (docs/QUALITY.md comes from `npx livegen quality`).

    /usr/bin/python3 models/model_card.py --run runs/cpu --model models/default

Every figure comes from a file a command wrote: the run's config.json, machine.json and training
logs, the model's manifest.json, card/quality.json (models/evaluate.py) and card/bench.json
(`npx livegen bench-model --json`). Nothing here is typed in by hand.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

from livegen.config import PRESETS


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def read_log(path: str) -> tuple[list[dict], float]:
    """The records of a JSON-lines log and its wall time, summed over resumed segments."""
    if not os.path.exists(path):
        return [], 0.0
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    wall, last = 0.0, 0.0
    for r in records:
        if r["time"] < last:  # a resumed run restarts its clock
            wall += last
        last = r["time"]
    return records, wall + last


def check_log_start(records: list[dict], begun: int, path: str) -> None:
    """Refuses a log that misses its first sittings: a run continued in a new folder must carry the
    old folder's log before its own, or the card would give one sitting's time as the training's."""
    if not records:
        return
    cadence = records[1]["step"] - records[0]["step"] if len(records) > 1 else records[0]["step"]
    if records[0]["step"] > begun + cadence:
        raise SystemExit(f"{path} starts at step {records[0]['step']}, but this denoiser trained from step {begun}: "
                         "the records in between are missing (put the earlier run's log before this one's)")


def tail_mean(records: list[dict], key: str, n: int = 10) -> float:
    values = [r[key] for r in records[-n:] if key in r]
    return sum(values) / len(values) if values else float("nan")


def flag_value(value) -> str:
    """A config value as train.py's --set reads it (config.json holds tuples as lists)."""
    return ",".join(f"{v:g}" for v in value) if isinstance(value, (list, tuple)) else str(value)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def adherence_table(q: dict) -> str:
    rows = [("seen prompts", q["seen"]), ("held-out prompts", q["heldout"]),
            ("seen prompts, renderer (ceiling)", q["seen"]["ceiling"]),
            ("held-out prompts, renderer (ceiling)", q["heldout"]["ceiling"])]
    if "autoencoder" in q["seen"]:
        rows += [("seen prompts, renderer through the autoencoder", q["seen"]["autoencoder"]),
                 ("held-out prompts, renderer through the autoencoder", q["heldout"]["autoencoder"])]
    if "ablationOneFrameHistory" in q:
        rows += [(f"ablation: seen, same prompts, full model (guidance {q['guidance']:g})", q["ablationFullModelSamePrompts"]),
                 ("ablation: history cut to the newest frame", q["ablationOneFrameHistory"])]
    for split, name in (("seen", "seen"), ("heldout", "held-out")):
        for w, report in q[split].get("byGuidance", {}).items():
            if not (split == "seen" and w == f"{q['guidance']:g}" and "ablationFullModelSamePrompts" in q):  # that row is above
                rows.append((f"ablation: {name}, same prompts, guidance {w}", report))
    rows += [(f"{q['longHorizon']['seconds']:.0f} s rollout, first 10 s", q["longHorizon"]["first10s"]),
             (f"{q['longHorizon']['seconds']:.0f} s rollout, last 10 s", q["longHorizon"]["last10s"])]
    if "firstFrames" in q:
        picked = f", best of {q['firstFrameCandidates']} by the critic" if q.get("firstFrameCandidates", 1) > 1 else ""
        rows.append((f"first latent frame from text alone, seen prompts{picked}", q["firstFrames"]))
    if "firstFramesOneCandidate" in q:
        rows.append(("ablation: first latent frame, one candidate (no critic)", q["firstFramesOneCandidate"]))
    out = ["| frames of | clips | frames | **pass** | coherent | background | object once | shape | size | motion | no stray blobs |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        out.append(f"| {name} | {r['clips']} | {r['frames']} | **{pct(r['passed'])}** | {pct(r['coherent'])} | "
                   f"{pct(r['background'])} | {pct(r['objects_present'])} | {pct(r['shape'])} | {pct(r['size'])} | "
                   f"{pct(r['motion'])} | {pct(r['no_extra'])} |")
    return "\n".join(out)


CHECK = """A frame **passes** when its background has the prompt's colour, each prompt object is exactly one
connected region of its colour with the right shape and size, no other colour forms a sizeable
region, and each object's centroid moves as its motion says over the half second around the
frame (`models/livegen/analyze.py`). *Coherent* is the same without motion."""


def earlier_training(run: str, version: str) -> str:
    """The training section of the card of the model a recovered run was rebuilt from (which
    carries its own earlier ones), headings one level down; empty without that card."""
    path = os.path.join(run, "source-card.md")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        lines = f.read().split("\n")
    start = lines.index("## Training") + 1 if "## Training" in lines else len(lines)
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    body = "\n".join("#" + line if line.startswith("#") else line for line in lines[start:end]).strip()
    return f"\n\n### Before: model {version}, from its card\n\n{body}" if body else ""


def first_frames_sample(q: dict) -> str:
    if "firstFrames" not in q:
        return ""
    return """
First frames from text alone, where the model has no history to copy (one seen prompt each):

![first frames](card/first.png)
"""


def steering_section(q: dict) -> str:
    s = q["steering"]
    lines = ["| before | after | frames until the new colour holds | object jump at the edit (px) |", "|---|---|---|---|"]
    for e in s["edits"]:
        jump = "n/a" if e["jump_px"] is None else f"{e['jump_px']:.1f}"
        took = "never" if e["frames_to_effect"] is None else str(e["frames_to_effect"])
        lines.append(f"| {e['before']} | {e['after']} | {took} | {jump} |")
    median = "n/a" if s["medianFramesToEffect"] is None else f"{s['medianFramesToEffect']:.0f}"
    jump = "n/a" if s["medianJumpPx"] is None else f"{s['medianJumpPx']:.1f}"
    return (f"Edits applied: {pct(s['applied'])}; median frames from the edit until the new colour holds: "
            f"{median}; median jump of the object across the edit: {jump} px.\n\n" + "\n".join(lines))


def main(args: argparse.Namespace) -> None:
    cfg = read_json(os.path.join(args.run, "config.json"))
    machine = read_json(os.path.join(args.run, "machine.json"))
    manifest = read_json(os.path.join(args.model, "manifest.json"))
    q = read_json(os.path.join(args.model, "card", "quality.json"))
    bench_path = os.path.join(args.model, "card", "bench.json")
    bench = read_json(bench_path) if os.path.exists(bench_path) else None
    recovered_path = os.path.join(args.run, "recovered.json")
    recovered = read_json(recovered_path) if os.path.exists(recovered_path) else None
    vae_log, vae_wall = read_log(os.path.join(args.run, "encoder.log" if recovered else "vae.log"))
    den_log, den_wall = read_log(os.path.join(args.run, "denoiser.log"))
    den_trained = not recovered or manifest["training"]["steps"] > recovered["from"]["steps"]
    # A recovered run whose denoiser log starts below the recovered step trained a new denoiser from its first step.
    den_fresh = recovered is not None and bool(den_log) and den_log[0]["step"] < recovered["from"]["steps"]
    check_log_start(den_log, recovered["from"]["steps"] if recovered and not den_fresh else 0,
                    os.path.join(args.run, "denoiser.log"))
    dec_log, dec_wall = read_log(os.path.join(args.run, "decoder.log"))
    params = manifest["parameters"]
    size_mb = sum(os.path.getsize(os.path.join(args.model, f)) for f in manifest["graphs"].values()) / 1e6
    hardware = machine["gpu"] or f"{machine['cpu']}, {machine['threads']} threads ({machine['cores']} cores), no GPU"
    g = manifest["gflop"]
    video = manifest["video"]
    stages = manifest["spatialPyramid"]["stages"]
    levels = manifest["temporalPyramid"]["levels"]
    preset = dataclasses.asdict(PRESETS["cpu"])
    overrides = " ".join(f"--set {k}={flag_value(v)}" for k, v in cfg.items() if k in preset and flag_value(preset[k]) != flag_value(v))
    weights = flag_value(cfg.get("stage_weights", preset["stage_weights"]))
    stage_weighting = "" if weights == flag_value(preset["stage_weights"]) else f", weighted {weights}, coarsest first"
    residual = ("; generates each latent frame as its change from the newest history frame"
                if manifest["denoiser"].get("predicts") == "residual" else "")
    if manifest["denoiser"].get("continuation") == "bridge":
        residual += "; continues a stream from its newest latent frame, noised, through the last stage alone"
    has_edits = os.path.exists(os.path.join(args.run, "edits.pt"))
    edit_clips = cfg.get("edit_clips", 0) if has_edits else 0
    data_notes = (f"{100 * cfg.get('edit_share', 0):.0f}% of denoiser examples come from them."
                  if has_edits else "")
    if cfg.get("rollout_share", 0) > 0:
        data_notes += (f" In {100 * cfg['rollout_share']:.0f}% of the examples that have a past, the newest history frame "
                       "is the model's own sample of it (its EMA weights, no guidance), so that it learns to continue "
                       "from frames of its own.")
    if cfg.get("caption_weight", 0) > 0:
        data_notes += (f" The text encoder also learns to name each object's colour, shape, size and motion back from "
                       f"its tokens (the caption probe, `livegen/caption_probe.py`, loss weight {cfg['caption_weight']:g}), "
                       "so that prompts differing in one word stay apart in what the denoiser reads.")
    seen = q["seen"]
    if seen["passed"] >= 0.5:
        status = f"On seen prompts {pct(seen['passed'])} of frames pass the full check below."
    else:
        status = (f"**Limitations.** This model does not meet livegen's quality bar yet: on seen prompts it paints "
                  f"the right background in {pct(seen['background'])} of frames, but the prompt's objects appear as one "
                  f"region of the right colour in only {pct(seen['objects_present'])} of object-frames, and "
                  f"{pct(seen['passed'])} of frames pass the full check. "
                  + ((f"Its denoiser is model {recovered['from']['version']}'s, trained on for {den_wall / 60:.0f} more minutes"
                      if den_trained else f"Its denoiser is model {recovered['from']['version']}'s, unchanged, trained")
                     if recovered and not den_fresh else f"Its denoiser was trained for {den_wall / 3600:.1f} hours")
                  + f" on {machine['cores']} CPU cores; training resumes where it stopped (`models/train.py` again, or "
                  "`models/recover.py` first on a machine without the checkpoints), and the GPU preset exists for a machine that has one.")
        if "autoencoder" in seen:
            status += (f" The autoencoder is a limit of its own: the renderer's frames of the same prompts, encoded "
                       f"and decoded, pass {pct(seen['autoencoder']['passed'])} (shapes right in "
                       f"{pct(seen['autoencoder']['shape'])} of object-frames, motion in {pct(seen['autoencoder']['motion'])}).")
    decoder_row = (f"| decoder (full frames, encoder frozen: sharper shapes) | {dec_log[-1]['step']} | {cfg['decoder_batch']} | "
                   f"{dec_wall / 60:.0f} min | {tail_mean(dec_log, 'loss'):.4f} |\n") if dec_log else ""
    mot_log, mot_wall = read_log(os.path.join(args.run, "motion.log"))
    motion_row = (f"| motion (the decoder's velocity branch alone, against the renderer's true motion) | {mot_log[-1]['step']} | "
                  f"{cfg['motion_batch']} | {mot_wall / 60:.0f} min | {tail_mean(mot_log, 'loss'):.4f} (weighted squared error, (px/frame)²) |\n") if mot_log else ""
    ref_log, ref_wall = read_log(os.path.join(args.run, "refine.log"))
    refine_row = (f"| refine (the decoder again, on latents the trained denoiser draws from true history: it learns to read them) | "
                  f"{ref_log[-1]['step']} | {cfg['decoder_batch']} clips x {cfg.get('refine_frames', preset['refine_frames'])} latent frames | "
                  f"{ref_wall / 60:.0f} min | {tail_mean(ref_log, 'loss'):.4f} |\n") if ref_log else ""
    crit_log, crit_wall = read_log(os.path.join(args.run, "critic.log"))
    critic_row = ""
    if crit_log and "critic" in manifest["graphs"]:
        crit = {k: cfg.get(k, preset[k]) for k in ("critic_prompts", "critic_seeds", "critic_batch")}
        critic_row = (f"| first-frame critic: {crit['critic_seeds']} first frames of each of {crit['critic_prompts']} training prompts, "
                      f"sampled by the denoiser and judged by the quality analyzer, then the fit | {crit_log[-1]['step']} | "
                      f"{crit['critic_batch']} | {crit_wall / 60:.0f} min (the fit) | {tail_mean(crit_log, 'loss'):.4f} "
                      "(cross-entropy per judgement + ranking within a prompt) |\n")
    restarts = [f"{phase} phase continued from step {cfg[key]} with its learning-rate schedule restarted there ({key})"
                for phase, key in (("denoiser", "schedule_start"), ("decoder", "decoder_schedule_start")) if cfg.get(key)]
    continued = (" The " + "; the ".join(restarts) + "; the steps before ran under the run's earlier settings."
                 if restarts else "")
    origin, before, autoencoder_row = "", "", "autoencoder (128x128 crops)"
    den_steps = str(manifest["training"]["steps"])
    if recovered:
        src = recovered["from"]
        before = earlier_training(args.run, src["version"])
        kept = "its decoder" if den_fresh else f"its text encoder, denoiser (step {src['steps']}) and decoder"
        origin = (f"\n- Rebuilt by `/usr/bin/python3 models/recover.py --model <model {src['version']}> --out {args.run}` from "
                  f"model {src['version']}: {kept} (decoder step "
                  f"{src['decoderSteps']}, motion step {src['motionSteps']}) weights, read from its ONNX graphs, and a new VAE "
                  f"encoder trained against its frozen decoder"
                  + ("; the text encoder and denoiser were then trained anew, from their first step" if den_fresh else "")
                  + f". The table below is this run's own; the training before "
                  f"follows it, from that model's card" + ("." if before else " (in git history)."))
        autoencoder_row = "VAE encoder, new, against the frozen decoder (128x128 crops)"
        if not den_fresh:
            den_steps = f"{src['steps']} to {den_steps}"
    # A run rebuilt by recover.py may train no denoiser (a decoder phase alone): its card then has no denoiser data or row.
    data = f"""- Data: procedurally rendered clips of the training split (`models/heldout.json` lists the
  colour-shape and colour-on-background combinations never shown in training), captions with
  random synonyms; {cfg['latent_clips']} clips of {cfg['latent_frames']} latent frames pre-encoded for the denoiser,
  and {edit_clips} steering clips of {cfg.get('edit_frames', 0)} latent frames whose prompt changes (a new background
  colour, or a new colour or shape for one object, in place) at a latent frame from 3 to 8; {data_notes}
""" if den_trained else ""
    denoiser_row = (f"| denoiser + text encoder | {den_steps} | {cfg['batch']} | {den_wall / 60:.0f} min | {tail_mean(den_log, 'loss'):.4f} "
                    f"(velocity MSE summed over the 3 stages{stage_weighting}) |\n") if den_trained else ""
    speed = ""
    if bench:
        speed = (f"\nMeasured in onnxruntime-node on {bench['threads']} threads ({bench['cpu']}): "
                 f"{bench['latentFrameMs']:.0f} ms per latent frame, **{bench['videoFps']:.1f} video frames per second** "
                 f"(real-time factor {bench['realTimeFactor']:.2f} at {video['fps']:g} fps), "
                 f"{bench['achievedGflops']:.0f} GFLOP/s (`npx livegen bench-model --json {bench_path}`).\n")
    card = f"""# {manifest['name']} {manifest['version']}: the built-in model

A Pyramid Flow video model trained from scratch on livegen's procedural world (coloured circles,
squares and triangles that move on plain or gently shaded backgrounds; DESIGN section 5). It
generates {video['width']}x{video['height']} video at {video['fps']:g} fps, {manifest['latent']['framesPerLatent']} frames per latent frame, steerable by prompt.
This card is written by `models/model_card.py` from the measurements below; docs/model-format.md is
the contract the files follow.

{status}

## Model

| part | what | parameters |
|---|---|---|
| text encoder | word tokenizer ({len(manifest['tokenizer']['vocab'])} words), 2-layer transformer, width {manifest['denoiser']['textWidth']} | {params['textEncoder'] / 1e6:.2f}M |
| denoiser | PyramidDiT: {manifest['denoiser']['depth']} adaLN blocks, width {manifest['denoiser']['width']}, {manifest['denoiser']['heads']} heads, 2x2-cell tokens{residual} | {params['denoiser'] / 1e6:.2f}M |
| VAE decoder | causal (cache = previous latent), 16x spatial and 4x temporal, 4x4 pixel shuffle, a velocity field moves objects between the 4 frames | {params['vaeDecoder'] / 1e6:.2f}M |

- Latent: {manifest['latent']['channels']} x {manifest['latent']['height']} x {manifest['latent']['width']} per latent frame.
- Spatial pyramid: {len(stages)} stages at {', '.join(f"{s['scale']:g}" for s in stages)} of the latent side, {', '.join(str(s['steps']) for s in stages)} Euler steps, with Pyramid Flow's corrective renoising at each jump; guidance {manifest['guidance']['scale']:g}.
- Temporal pyramid (bounded history): {', '.join(f"{l['frames']} frame(s) at {l['scale']:g}" for l in levels)}: {manifest['temporalPyramid']['tokens']} tokens, encoded once per latent frame, corrupted with sigma_c = {manifest['temporalPyramid']['noise']}.
- Files: {size_mb:.1f} MB of ONNX graphs.

## Cost

{g['perVideoFrame']:.2f} GFLOP per video frame ({g['perLatentFrame']:.2f} per latent frame: history pass {g['history']:.2f},
all denoising steps with guidance {g['steps']:.2f}, decoder {g['decoder']:.2f}), counted from the shapes.
{speed}
## Training

{data}- Hardware: {hardware}; PyTorch {machine['torch']}.
- Command: `/usr/bin/python3 models/train.py --preset cpu --out {args.run} {overrides}` (every phase in turn, resumable; `--phase` runs only some of them).{continued}{origin}

| phase | steps | batch | wall time | final loss (mean of last 10 logs) |
|---|---|---|---|---|
| {autoencoder_row} | {vae_log[-1]['step'] if vae_log else 0} | {cfg['vae_batch']} | {vae_wall / 60:.0f} min | {tail_mean(vae_log, 'loss'):.4f} (PSNR {tail_mean(vae_log, 'psnr'):.1f} dB on training crops) |
{denoiser_row}{decoder_row}{motion_row}{refine_row}{critic_row}
Autoencoder reconstruction on held-out clips: **{q['vaePsnrHeldout']:.1f} dB PSNR**.{before}

## Quality

Measured by `/usr/bin/python3 models/evaluate.py --run {args.run} --out {args.model}/card` with the
reference sampler (the engine's algorithm, in PyTorch), {q['secondsPerClip']:g} s per clip, guidance {q['guidance']:g}.
{CHECK}

{adherence_table(q)}

### Steering

A colour edit of the first object halfway through a {q['secondsPerClip']:g} s clip:

{steering_section(q)}

## Samples

Seen prompts (rows: prompts; columns: every 6th frame):

![seen](card/seen.png)

Held-out prompts:

![held-out](card/heldout.png)

Around a mid-video edit (every 3rd frame from two latent frames before the edit):

![edit](card/edit.png)

A {q['longHorizon']['seconds']:.0f} s rollout (ten frames spread over it):

![long](card/long.png)
{first_frames_sample(q)}"""
    with open(os.path.join(args.model, "README.md"), "w") as f:
        f.write(card)
    print(f"wrote {args.model}/README.md")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/cpu")
    parser.add_argument("--model", default="models/default")
    main(parser.parse_args())
