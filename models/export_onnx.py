"""Exports a trained run to a model directory: its ONNX graphs, manifest.json and parity fixtures.

    /usr/bin/python3 models/export_onnx.py --run runs/cpu --out models/default

The graphs (docs/model-format.md is the contract):
- text_encoder.onnx      ids -> text, text_mask
- denoiser_history.onnx  history levels + sigma_c -> history_k, history_v, history_bias
- denoiser_step.onnx     latent, sigma, text, text_mask, history_k, history_v, history_bias -> velocity
- vae_decoder.onnx       latent, cache -> frames, next_cache
- motion_carry.onnx      latent, previous, text, text_mask -> moved (a bridge model's alone)
- frame_critic.onnx      frames, text, text_mask -> score (a model whose run has a critic)
parity.json + parity.bin hold inputs and the PyTorch outputs for each graph; the TypeScript
tests run the graphs in onnxruntime-node on them and compare.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn

from livegen import pyramid, rng
from livegen.carry import MotionCarry
from livegen.config import PRESETS
from livegen.critic import FrameCritic
from livegen.denoiser import PyramidDiT
from livegen.runlog import load, load_decoder
from livegen.sampler import CANDIDATE_STRIDE, GUIDANCE, Generator
from livegen.text import TextEncoder, Tokenizer, default_tokenizer
from livegen.train_denoiser import build
from livegen.vae import StreamingDecoder, VAEConfig, VideoVAE

OPSET = 17
TOKENIZER_CASES = [
    "a large red circle moving left on a blue background",
    "A Tiny GREY wedge, sinking... over an orange backdrop!",
    "",
    "   \t\n",
    "a zebra 🦓 très красный 赤い circle",
    "red\x00dish ÀB İi ǅ",
    "big " * 40,
]
FORMAT_VERSION = 1


class HistoryGraph(nn.Module):
    """The history pass with one input tensor per temporal level."""

    def __init__(self, dit: PyramidDiT, n_levels: int):
        super().__init__()
        self.dit = dit
        self.n_levels = n_levels

    def forward(self, sigma_c, *level_tensors):
        levels = [tuple(level_tensors[3 * i: 3 * i + 3]) for i in range(self.n_levels)]
        return self.dit.encode_history(levels, sigma_c)


class CriticGraph(nn.Module):
    """The critic's ranking score of decoded first frames: the engine keeps the candidate that scores highest."""

    def __init__(self, critic: FrameCritic):
        super().__init__()
        self.critic = critic

    def forward(self, frames, text, text_mask):
        return self.critic.score(frames, text, text_mask)


STEP_INPUTS = ["latent", "sigma", "text", "text_mask", "history_k", "history_v", "history_bias"]  # the step graph's, in order


def history_names(n_levels: int) -> list[str]:
    return [f"history_{i}{suffix}" for i in range(n_levels) for suffix in ("", "_age", "_mask")]


def export(module: nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
    module.eval()
    # PyTorch 2.x defaults to the dynamo exporter in later releases; the names and dynamic axes
    # here are written for the TorchScript one, which both 1.13 and 2.x have.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True, **legacy)
    onnx.checker.check_model(onnx.load(path))


class Fixtures:
    """Collects named tensors into parity.bin with an index in parity.json."""

    def __init__(self):
        self.blob = bytearray()
        self.cases: list[dict] = []
        self.sampler_case: dict = {}

    def tensor(self, t: torch.Tensor) -> dict:
        a = t.detach().cpu().numpy()
        dtype = {np.dtype("float32"): "float32", np.dtype("int64"): "int64", np.dtype("uint8"): "uint8"}[a.dtype]
        data = np.ascontiguousarray(a).tobytes()
        entry = {"dtype": dtype, "dims": list(a.shape), "offset": len(self.blob), "bytes": len(data)}
        self.blob += data
        self.blob += b"\0" * (-len(self.blob) % 8)  # keep every tensor 8-byte aligned
        return entry

    def add(self, graph: str, inputs: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> None:
        self.cases.append({"graph": graph, "inputs": {k: self.tensor(v) for k, v in inputs.items()},
                           "outputs": {k: self.tensor(v) for k, v in outputs.items()}})

    def sampler(self, gen: Generator, prompts: list[tuple[int, str]], n_latent: int, seed: int) -> None:
        """The reference sampler's latents for a prompt schedule: the engine must match them."""
        latents, _ = gen.generate(prompts, n_latent, seed)
        self.sampler_case = {"seed": seed, "prompts": [{"fromLatentFrame": k, "prompt": p} for k, p in prompts],
                             "latents": self.tensor(latents)}

    def write(self, out: str, tokenizer: Tokenizer) -> None:
        with open(os.path.join(out, "parity.bin"), "wb") as f:
            f.write(self.blob)
        texts = TOKENIZER_CASES + ["".join(map(chr, range(0x80)))]  # every ASCII character once
        with open(os.path.join(out, "parity.json"), "w") as f:
            json.dump({"file": "parity.bin", "cases": self.cases, "sampler": self.sampler_case,
                       "tokenizer": [{"text": t, "ids": tokenizer.encode(t)} for t in texts]}, f, indent=1)


def gflop(dit: PyramidDiT, vae: VideoVAE, sp: pyramid.SpatialPyramid, tp: pyramid.TemporalPyramid, guidance: float) -> dict:
    """Multiply-adds x 2 of the matrix work per latent frame, counted from the shapes; for a bridge
    model, per latent frame with a past (all but a stream's first), which runs the last stage alone."""
    halves = 1 if guidance == 1 else 2  # guidance batches cond + uncond; at 1 the sampler runs cond alone
    c = dit.cfg
    d, L, p = c.width, c.depth, c.patch
    text_tokens = 32
    hist = tp.tokens(c.latent_size, p)
    per_token = L * (12 * d * d)  # qkv, proj and MLP multiply-adds per token
    history = hist * (per_token + L * 2 * hist * d)
    step_tokens = [(c.latent_size // sp.factor(k) // p) ** 2 for k in range(sp.stages)]
    run = range(sp.stages - 1 if c.continuation == "bridge" else 0, sp.stages)
    steps = sum(sp.steps[k] * halves * (step_tokens[k] * (per_token + L * 2 * (text_tokens + hist + step_tokens[k]) * d)
                                        + text_tokens * L * 2 * d * d) for k in run)
    dec = vae.decoder
    s = c.latent_size
    decoder = (s * s * (dec.inp.weight.numel() + 2 * dec.block1.conv1.weight.numel())
               + (2 * s) ** 2 * (dec.up1.weight.numel() + 2 * dec.block2.conv1.weight.numel())
               + (4 * s) ** 2 * (dec.up2.weight.numel() + 2 * dec.block3.conv1.weight.numel() + dec.out.weight.numel()))
    velocity, side = 0, s  # the velocity branch: its convolutions at 1/16 resolution until it upsamples to 1/4
    for layer in dec.velocity:
        if isinstance(layer, nn.Upsample):
            side *= int(layer.scale_factor)
        elif isinstance(layer, nn.Conv2d):
            velocity += side * side * layer.weight.numel()
    decoder += velocity
    carry = 0
    if dit.motion is not None:  # the motion-carry graph runs the branch again, then its head
        head = dit.motion
        cells = sum(m.weight.numel() for m in head.modules() if isinstance(m, nn.Conv2d)) + head.query.weight.numel()
        carry = velocity + s * s * (cells + 2 * text_tokens * head.query.out_features) \
            + text_tokens * (head.key.weight.numel() + head.value.weight.numel())
    per_latent = 2 * (history + steps + decoder + carry) / 1e9
    return {"history": 2 * history / 1e9, "steps": 2 * steps / 1e9, "decoder": 2 * decoder / 1e9, "carry": 2 * carry / 1e9,
            "perLatentFrame": per_latent, "perVideoFrame": per_latent / vae.cfg.frames_per_latent}


def load_run(run: str) -> tuple[dict, TextEncoder, PyramidDiT, VideoVAE]:
    """The EMA text encoder and denoiser and the VAE of a run: its latent normalisation (from its
    latent dataset, or a recovered run's shipped one), and its sharpened decoder when the decoder
    phase has run, or its refined one when the refine phase has read this denoiser's latents."""
    with open(os.path.join(run, "config.json")) as f:
        cfg = dataclasses.replace(PRESETS["cpu"], **json.load(f))
    text, dit = build(cfg)
    state = load(os.path.join(run, "denoiser.pt"))
    text.load_state_dict(state["ema_text"])
    dit.load_state_dict(state["ema_dit"])
    dit_steps = state["step"]
    vae = VideoVAE(VAEConfig())
    vae.load_state_dict(load(os.path.join(run, "vae.pt"))["model"])
    decoder_steps = load_decoder(run, vae, dit_steps)
    # A recovered run keeps its shipped normalisation, in vae.pt (train.py), whether or not it has
    # encoded latents yet; any other run's is its latent dataset's.
    if not os.path.exists(os.path.join(run, "recovered.json")):
        stats = load(os.path.join(run, "latents.pt"))
        vae.latent_mean.copy_(stats["latent_mean"])
        vae.latent_std.copy_(stats["latent_std"])
    info = {"config": dataclasses.asdict(cfg), "steps": dit_steps, **decoder_steps}
    return info, text.eval(), dit.eval(), vae.eval()


def load_critic(run: str, info: dict, text: TextEncoder, dit: PyramidDiT) -> FrameCritic | None:
    """The run's first-frame critic (critic.pt), or None when it has none or learned from another
    denoiser step than the run's."""
    path = os.path.join(run, "critic.pt")
    if not os.path.exists(path):
        return None
    state = load(path)
    if state["denoiser_step"] != info["steps"]:
        print(f"{path}: learned from the denoiser at step {state['denoiser_step']}, not {info['steps']}: not used "
              "(models/train.py --phase critic judges the new one)")
        return None
    critic = FrameCritic(text.cfg.width)
    critic.load_state_dict(state["critic"])
    info["criticSteps"] = state["step"]
    return critic.eval()


def export_model(text: TextEncoder, dit: PyramidDiT, vae: VideoVAE, tokenizer: Tokenizer, out: str,
                 size: int, fps: float, info: dict, critic: FrameCritic | None = None, candidates: int = 1) -> dict:
    """Writes the graphs, parity fixtures and manifest.json to `out`; returns the manifest. With a
    critic, a stream's first frame is the best of `candidates`."""
    os.makedirs(out, exist_ok=True)
    sp, tp = pyramid.SpatialPyramid(), pyramid.TemporalPyramid()
    c = dit.cfg
    fixtures = Fixtures()
    seed = 1234

    ids = tokenizer.batch(["a large red circle moving left on a blue background", ""])
    export(text, (ids,), os.path.join(out, "text_encoder.onnx"), ["ids"], ["text", "text_mask"],
           {"ids": {0: "batch", 1: "tokens"}, "text": {0: "batch", 1: "tokens"}, "text_mask": {0: "batch", 1: "tokens"}})
    with torch.no_grad():
        emb, mask = text(ids)
    fixtures.add("textEncoder", {"ids": ids}, {"text": emb, "text_mask": mask})

    past = [rng.gaussian(seed, 100 + i, (1, c.latent_channels, c.latent_size, c.latent_size)) for i in range(5)]
    levels = pyramid.history_levels(past, tp)  # 5 of 7 slots filled: masks matter
    sigma_c = torch.full((1,), tp.noise)
    flat = [t for level in levels for t in level]
    names = history_names(len(levels))
    dyn = {n: {0: "batch", 1: f"frames_{n.split('_')[1]}"} for n in names}
    dyn.update({"sigma_c": {0: "batch"}, "history_k": {1: "batch", 3: "history_tokens"},
                "history_v": {1: "batch", 3: "history_tokens"}, "history_bias": {0: "batch", 3: "history_tokens"}})
    graph = HistoryGraph(dit, len(levels))
    export(graph, (sigma_c, *flat), os.path.join(out, "denoiser_history.onnx"), ["sigma_c"] + names,
           ["history_k", "history_v", "history_bias"], dyn)
    with torch.no_grad():
        hk, hv, hb = graph(sigma_c, *flat)
    fixtures.add("history", {"sigma_c": sigma_c, **dict(zip(names, flat))},
                 {"history_k": hk, "history_v": hv, "history_bias": hb})

    hk2, hv2, hb2 = hk.expand(-1, 2, -1, -1, -1).contiguous(), hv.expand(-1, 2, -1, -1, -1).contiguous(), hb.expand(2, -1, -1, -1).contiguous()
    x = rng.gaussian(seed, 1, (2, c.latent_channels, c.latent_size // 2, c.latent_size // 2))
    sigma = torch.tensor([0.7, 0.7])
    export(dit, (x, sigma, emb, mask, hk2, hv2, hb2), os.path.join(out, "denoiser_step.onnx"), STEP_INPUTS, ["velocity"],
           {"latent": {0: "batch", 2: "height", 3: "width"}, "sigma": {0: "batch"}, "text": {0: "batch", 1: "tokens"},
            "text_mask": {0: "batch", 1: "tokens"}, "history_k": {1: "batch", 3: "history_tokens"},
            "history_v": {1: "batch", 3: "history_tokens"}, "history_bias": {0: "batch", 3: "history_tokens"},
            "velocity": {0: "batch", 2: "height", 3: "width"}})
    for k in range(sp.stages):  # every stage's resolution through the one graph
        side = c.latent_size // sp.factor(k)
        xk = rng.gaussian(seed, 10 + k, (2, c.latent_channels, side, side))
        with torch.no_grad():
            v = dit(xk, sigma, emb, mask, hk2, hv2, hb2)
        fixtures.add("step", dict(zip(STEP_INPUTS, (xk, sigma, emb, mask, hk2, hv2, hb2))), {"velocity": v})

    decoder = StreamingDecoder(vae)
    z = rng.gaussian(seed, 2, (1, c.latent_channels, c.latent_size, c.latent_size))
    graphs = {"textEncoder": "text_encoder.onnx", "history": "denoiser_history.onnx",
              "step": "denoiser_step.onnx", "vaeDecoder": "vae_decoder.onnx"}
    if c.continuation == "bridge":
        carry, previous = MotionCarry(vae, dit.motion), rng.gaussian(seed, 4, tuple(z.shape))
        graphs["carry"] = "motion_carry.onnx"
        names = ["latent", "previous", "text", "text_mask"]
        export(carry, (z, previous, emb[:1], mask[:1]), os.path.join(out, graphs["carry"]), names, ["moved"],
               {"latent": {0: "batch"}, "previous": {0: "batch"}, "text": {0: "batch", 1: "tokens"},
                "text_mask": {0: "batch", 1: "tokens"}, "moved": {0: "batch"}})
        for before in (previous, torch.zeros_like(previous)):  # a stream's second frame has no frame before its newest
            inputs = (z, before, emb[:1], mask[:1])
            with torch.no_grad():
                fixtures.add("carry", dict(zip(names, inputs)), {"moved": carry(*inputs)})
    cache = vae.denormalize(rng.gaussian(seed, 3, (1, c.latent_channels, c.latent_size, c.latent_size)))
    export(decoder, (z, cache), os.path.join(out, "vae_decoder.onnx"), ["latent", "cache"], ["frames", "next_cache"],
           {"latent": {0: "batch"}, "cache": {0: "batch"}, "frames": {0: "batch"}, "next_cache": {0: "batch"}})
    with torch.no_grad():
        frames, next_cache = decoder(z, cache)
    fixtures.add("vaeDecoder", {"latent": z, "cache": cache}, {"frames": frames, "next_cache": next_cache})
    if critic is not None:
        graphs["critic"] = "frame_critic.onnx"
        with torch.no_grad():  # one candidate: a row of frames is 0.8 MB of the model directory's 50
            candidate, _ = decoder(rng.gaussian(seed, 5, tuple(z.shape)), torch.zeros_like(z))
        names, inputs = ["frames", "text", "text_mask"], (candidate, emb[:1], mask[:1])
        export(CriticGraph(critic), inputs, os.path.join(out, graphs["critic"]), names, ["score"],
               {"frames": {0: "batch"}, "text": {0: "batch", 1: "tokens"}, "text_mask": {0: "batch", 1: "tokens"}, "score": {0: "batch"}})
        with torch.no_grad():
            fixtures.add("critic", dict(zip(names, inputs)), {"score": critic.score(*inputs)})
    gen = Generator(tokenizer, text, dit, decoder, sp, tp, guidance=GUIDANCE, critic=critic,
                    candidates=candidates if critic is not None else 1)
    fixtures.sampler(gen, [(0, "a large red circle moving left on a blue background"),
                           (3, "a large green circle moving left on a blue background")], 5, seed=7)
    fixtures.write(out, tokenizer)

    manifest = {
        "format": "livegen-model",
        "formatVersion": FORMAT_VERSION,
        "name": "livegen-default",
        # The version names the weights, so that a replay log made with other weights is noticed.
        "version": f"1.0.0+{info.get('steps', 0)}steps" + (f".decoder{info['decoderSteps']}" if info.get("decoderSteps") else "")
                   + (f".motion{info['motionSteps']}" if info.get("motionSteps") else "")
                   + (f".refine{info['refineSteps']}" if info.get("refineSteps") else "")
                   + (f".critic{info['criticSteps']}" if critic is not None and info.get("criticSteps") else ""),
        "video": {"width": size, "height": size, "fps": fps},
        "latent": {"channels": c.latent_channels, "height": c.latent_size, "width": c.latent_size,
                   "framesPerLatent": vae.cfg.frames_per_latent, "patch": c.patch},
        "tokenizer": {"kind": "words", "maxTokens": tokenizer.max_tokens, "pad": 0, "unk": 1, "bos": 2,
                      "vocab": tokenizer.vocab},
        "spatialPyramid": {"stages": [
            {"scale": 1 / sp.factor(k), "sigmaStart": round(sp.starts[k], 6), "sigmaEnd": sp.ends[k], "steps": sp.steps[k],
             **({"renoise": {"alpha": round(sp.jump(k)[0], 6), "beta": round(sp.jump(k)[1], 6)}} if k else {})}
            for k in range(sp.stages)]},
        "temporalPyramid": {"levels": [{"scale": 1 / f, "frames": n} for f, n in tp.levels], "noise": tp.noise,
                            "tokens": tp.tokens(c.latent_size, c.patch)},
        "guidance": {"scale": GUIDANCE},
        **({"firstFrame": {"candidates": gen.candidates, "candidateStride": CANDIDATE_STRIDE}} if critic is not None else {}),
        "denoiser": {"width": c.width, "depth": c.depth, "heads": c.heads, "textWidth": c.text_width, "predicts": c.predicts,
                     "continuation": c.continuation},
        "rng": {"algorithm": "hash32-box-muller", "streamsPerLatentFrame": 16, "stageNoise": 0, "historyNoise": 8},
        "graphs": graphs,
        "gflop": {k: round(v, 3) for k, v in gflop(dit, vae, sp, tp, GUIDANCE).items()},
        "parameters": {"textEncoder": sum(p.numel() for p in text.parameters()),
                       "denoiser": sum(p.numel() for p in dit.parameters()),
                       "vaeDecoder": sum(p.numel() for p in vae.decoder.parameters()),
                       **({"critic": sum(p.numel() for p in critic.parameters())} if critic is not None else {})},
        "training": info,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def main(args: argparse.Namespace) -> None:
    info, text, dit, vae = load_run(args.run)
    cfg = info["config"]
    manifest = export_model(text, dit, vae, default_tokenizer(), args.out, cfg["size"], cfg["fps"], info,
                            load_critic(args.run, info, text, dit), cfg["first_frame_candidates"])
    print(json.dumps({"out": args.out, "gflop": manifest["gflop"], "parameters": manifest["parameters"]}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/cpu", help="the training output directory")
    parser.add_argument("--out", default="models/default", help="the model directory to write")
    main(parser.parse_args())
