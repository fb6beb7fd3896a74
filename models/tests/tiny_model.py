"""A randomly initialised model small enough for tests: the default tokenizer, a one-layer text
encoder, PyramidDiT-tiny on 8x8 latents and a narrow VAE."""
import dataclasses

import torch

from livegen.denoiser import PyramidDiT, PyramidDiT_models
from livegen.text import TextConfig, TextEncoder, Tokenizer, default_tokenizer
from livegen.vae import VAEConfig, VideoVAE


def tiny_model(seed: int = 0, **dit: str) -> tuple[Tokenizer, TextEncoder, PyramidDiT, VideoVAE]:
    """`dit` changes DiTConfig fields: continuation="bridge" gives the denoiser its motion head."""
    torch.manual_seed(seed)
    tok = default_tokenizer()
    text = TextEncoder(TextConfig(vocab_size=len(tok.vocab), width=32, depth=1)).eval()
    dit = PyramidDiT(dataclasses.replace(PyramidDiT_models["PyramidDiT-tiny"], latent_size=8, text_width=32, **dit)).eval()
    vae = VideoVAE(VAEConfig(enc_width=(16, 16), dec_width=(16, 16, 8))).eval()
    return tok, text, dit, vae
