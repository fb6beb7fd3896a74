"""Small building blocks shared by the text encoder and the denoiser."""
from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F


# The dtype that Linear layers and attention multiply in, when not float32 (see bfloat16_matmuls).
_matmul_dtype: torch.dtype | None = None


@contextmanager
def bfloat16_matmuls(enabled: bool = True) -> Iterator[None]:
    """Inside this block, Linear layers and attention multiply in bfloat16; everything else
    (norms, softmax, the loss, the weights and the optimizer) stays float32. `enabled=False`
    leaves the precision as it found it.

    On a CPU with AVX512-BF16 a denoiser training step is about 1.4 times as fast
    (models/bench/train_step.py). Training uses it (the `precision` setting); sampling,
    evaluation and export never do."""
    global _matmul_dtype
    before = _matmul_dtype
    _matmul_dtype = torch.bfloat16 if enabled else before
    try:
        yield
    finally:
        _matmul_dtype = before


def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def wants_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether a training phase set to `precision` multiplies in bfloat16 on `device`."""
    if precision not in ("auto", "float32", "bfloat16"):
        raise SystemExit(f"train: precision must be 'auto', 'float32' or 'bfloat16', not {precision!r}")
    if precision != "auto":
        return precision == "bfloat16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_bfloat16()


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention with an additive bias: q (..., N, Dh), k and v (..., M, Dh),
    bias broadcast to (..., N, M). The softmax is float32 at any precision."""
    scale = q.shape[-1] ** -0.5
    if _matmul_dtype is None:
        return ((q @ k.transpose(-1, -2)) * scale + bias).softmax(dim=-1) @ v
    dt = _matmul_dtype
    att = (q.to(dt) @ k.to(dt).transpose(-1, -2)).float() * scale + bias
    return (att.softmax(dim=-1).to(dt) @ v.to(dt)).float()


class Linear(nn.Linear):
    """nn.Linear that runs about 4x faster on CPU.

    On CPU PyTorch 1.13, a 1x1 convolution (oneDNN) runs about four times faster than the BLAS
    matmul behind F.linear, forward and backward alike. Viewing (M, in) rows as a channels-last
    (1, in, M, 1) image makes that convolution copy-free. ONNX export uses F.linear (a MatMul).
    Inside bfloat16_matmuls it multiplies in bfloat16 (oneDNN's matmul, faster still).
    """

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return F.linear(x, self.weight, self.bias)
        if _matmul_dtype is not None:
            dt = _matmul_dtype
            return F.linear(x.to(dt), self.weight.to(dt), self.bias.to(dt)).float()
        if x.device.type != "cpu":
            return F.linear(x, self.weight, self.bias)
        lead = x.shape[:-1]
        rows = x.reshape(1, -1, 1, self.in_features).permute(0, 3, 1, 2)  # (1, in, M, 1) channels-last
        y = F.conv2d(rows, self.weight[:, :, None, None], self.bias)
        return y.permute(0, 2, 3, 1).reshape(*lead, self.out_features)


def pick_device() -> torch.device:
    """CUDA when present, else the CPU (see use_cpu_cores)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    use_cpu_cores()
    return torch.device("cpu")


def use_cpu_cores() -> None:
    """Gives torch every core (or OMP_NUM_THREADS threads when set), and OpenBLAS one thread
    (unless OPENBLAS_NUM_THREADS is set).

    Debian's default BLAS, the pthread OpenBLAS, keeps a thread pool of its own and spreads each
    call from each of torch's threads over it, so the two pools fight for the cores: a denoiser
    training step took 1.77 times as long with both at 2 threads (models/bench/train_step.py)."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(os.cpu_count() or 1)
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        for path in loaded_openblas():
            setter = getattr(ctypes.CDLL(path), "openblas_set_num_threads", None)
            if setter is not None:
                setter(1)


def loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries this process has loaded (none where /proc is missing)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if "openblas" in line and "/" in line})
    except OSError:
        return []
