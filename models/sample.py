"""The reference sampler on the command line: a GIF and a contact sheet for a prompt and its edits.

    /usr/bin/python3 models/sample.py --run runs/cpu --seconds 10 --seed 7 --out out/sample \
        --prompt "a large red circle moving left on a blue background" \
        --edit 5="a large green circle moving left on a blue background"

An edit SECONDS=PROMPT governs from the first latent frame that starts at or after SECONDS.
This is the loop the TypeScript engine runs (docs/model-format.md), in PyTorch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from export_onnx import load_run
from livegen import media, pyramid
from livegen.layers import use_cpu_cores
from livegen.sampler import GUIDANCE, Generator
from livegen.text import default_tokenizer
from livegen.vae import StreamingDecoder


def parse_edit(text: str, latent_seconds: float) -> tuple[int, str]:
    seconds, sep, prompt = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"an edit is SECONDS=PROMPT, not {text!r}")
    try:
        at = float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"edit time must be a number of seconds, not {seconds!r}") from None
    if at < 0:
        raise argparse.ArgumentTypeError(f"edit time must not be negative: {at}")
    return math.ceil(at / latent_seconds - 1e-9), prompt


def main(args: argparse.Namespace) -> None:
    use_cpu_cores()
    info, text, dit, vae = load_run(args.run)
    fps = info["config"]["fps"]
    latent_seconds = vae.cfg.frames_per_latent / fps
    try:
        edits = sorted(parse_edit(e, latent_seconds) for e in args.edit)
    except argparse.ArgumentTypeError as e:
        sys.exit(f"sample.py: {e}")
    gen = Generator(default_tokenizer(), text, dit, StreamingDecoder(vae), pyramid.SpatialPyramid(),
                    pyramid.TemporalPyramid(), guidance=args.guidance)
    n_latent = max(1, round(args.seconds / latent_seconds))
    schedule = [(0, args.prompt)] + edits

    def progress(done: int, total: int) -> None:
        print(f"\rlatent frame {done}/{total}", end="", file=sys.stderr, flush=True)

    _, frames = gen.generate(schedule, n_latent, args.seed, progress=progress)
    print(file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    media.gif(frames, os.path.join(args.out, "sample.gif"), fps)
    media.contact_sheet([frames[i: i + 64] for i in range(0, len(frames), 64)], os.path.join(args.out, "sheet.png"), every=4)
    with open(os.path.join(args.out, "prompts.json"), "w") as f:
        json.dump({"seed": args.seed, "prompts": [{"fromLatentFrame": k, "prompt": p} for k, p in schedule]}, f, indent=2)
    print(f"{len(frames)} frames -> {args.out}/sample.gif, {args.out}/sheet.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/cpu")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--edit", action="append", default=[], help="SECONDS=PROMPT, repeatable")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--guidance", type=float, default=GUIDANCE)
    parser.add_argument("--out", default="out/sample")
    main(parser.parse_args())
