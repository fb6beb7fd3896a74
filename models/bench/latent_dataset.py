"""Where building a latent dataset (train.py's encode_latents) spends its time: rendering the clips
and encoding them, per video frame, in blocks of 8 clips as train.py draws them.

    /usr/bin/python3 models/bench/latent_dataset.py [--blocks 2] [--repeats 2] [--json FILE]

The encoder has the CPU preset's shape with fresh weights: its cost does not depend on them.
Rendering and encoding alternate block by block, so a noisy machine slows both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import torch

from livegen import data, world
from livegen.config import PRESETS
from livegen.layers import pick_device
from livegen.vae import VAEConfig, VideoVAE
from train import machine


def main(args: argparse.Namespace) -> None:
    device = pick_device()
    cfg = PRESETS["cpu"]
    vae = VideoVAE(VAEConfig()).to(device).eval()
    heldout = world.load_heldout()
    n_frames = cfg.latent_frames * vae.cfg.frames_per_latent
    per = 8
    render_s, encode_s = [], []
    with torch.no_grad():
        for repeat in range(args.repeats):
            r = e = 0.0
            for block in range(args.blocks):
                rng = np.random.default_rng(50_000 + per * block)
                start = time.perf_counter()
                video, _, _ = data.clip_batch(rng, per, n_frames, cfg.size, cfg.fps, heldout, max_start=60.0)
                r += time.perf_counter() - start
                start = time.perf_counter()
                vae.encode(video.to(device))
                e += time.perf_counter() - start
            frames = args.blocks * per * n_frames
            render_s.append(r / frames)
            encode_s.append(e / frames)
            print(f"repeat {repeat + 1}: render {1e3 * render_s[-1]:.2f} ms, encode {1e3 * encode_s[-1]:.2f} ms a video frame", flush=True)
    result = {
        "command": "models/bench/latent_dataset.py " + " ".join(sys.argv[1:]),
        "machine": machine(device),
        "frameSize": cfg.size,
        "framesPerRepeat": args.blocks * per * n_frames,
        "renderMsPerFrame": [round(1e3 * s, 3) for s in render_s],
        "encodeMsPerFrame": [round(1e3 * s, 3) for s in encode_s],
        "renderShare": round(min(render_s) / (min(render_s) + min(encode_s)), 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2, help="blocks of 8 clips per repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="write the result here")
    main(parser.parse_args())
