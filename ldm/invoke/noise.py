"""Seeded initial noise: drawn on the CPU so a seed means the same image on every device, plus
slerp variations and Perlin noise as InvokeAI 2.x made them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .request import MAX_SEED, GenerationRequest, ImagePlan

__all__ = ["MAX_SEED", "SeededNoise", "gaussian_noise", "initial_noise", "perlin_noise", "slerp"]


def cpu_generator(seed: int) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(int(seed))


def gaussian_noise(seed: int, shape: Sequence[int]) -> torch.Tensor:
    """float32 noise on the CPU; callers move it to their device and dtype."""
    return torch.randn(tuple(shape), generator=cpu_generator(seed), dtype=torch.float32)


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor, dot_threshold: float = 0.9995) -> torch.Tensor:
    """Spherical interpolation between two noise tensors; keeps the result's variance that of noise."""
    a = v0.double().flatten()
    b = v1.double().flatten()
    dot = torch.sum(a * b) / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))
    if torch.abs(dot) > dot_threshold:
        out = (1 - t) * v0.double() + t * v1.double()
    else:
        theta_0 = torch.acos(dot)
        sin_theta_0 = torch.sin(theta_0)
        theta_t = theta_0 * t
        s0 = torch.sin(theta_0 - theta_t) / sin_theta_0
        s1 = torch.sin(theta_t) / sin_theta_0
        out = s0 * v0.double() + s1 * v1.double()
    return out.to(v0.dtype)


def perlin_noise(seed: int, shape: Sequence[int], res: int = 4) -> torch.Tensor:
    """Per-channel 2-D gradient noise of ``shape`` (b, c, h, w), seeded on the CPU, unit variance."""
    b, c, h, w = shape
    gen = cpu_generator(seed)
    out = torch.empty(b, c, h, w)
    for i in range(b):
        for j in range(c):
            out[i, j] = _perlin_2d(h, w, res, gen)
    out = out - out.mean()
    std = out.std()
    return out / std if std > 0 else out


def _perlin_2d(h: int, w: int, res: int, gen: torch.Generator) -> torch.Tensor:
    cells_y, cells_x = res, res
    angles = 2 * math.pi * torch.rand(cells_y + 1, cells_x + 1, generator=gen)
    grads = torch.stack((torch.cos(angles), torch.sin(angles)), dim=-1)
    ys = torch.linspace(0, cells_y, h + 1)[:-1]
    xs = torch.linspace(0, cells_x, w + 1)[:-1]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    y0, x0 = gy.floor().long(), gx.floor().long()
    fy, fx = gy - y0, gx - x0

    def corner(dy: int, dx: int) -> torch.Tensor:
        g = grads[y0 + dy, x0 + dx]
        return g[..., 0] * (fx - dx) + g[..., 1] * (fy - dy)

    def fade(t: torch.Tensor) -> torch.Tensor:
        return 6 * t**5 - 15 * t**4 + 10 * t**3

    u, v = fade(fx), fade(fy)
    top = torch.lerp(corner(0, 0), corner(0, 1), u)
    bottom = torch.lerp(corner(1, 0), corner(1, 1), u)
    return math.sqrt(2) * torch.lerp(top, bottom, v)


def initial_noise(
    seed: int,
    shape: Sequence[int],
    with_variations: Sequence[tuple[int, float]] = (),
    variation_seed: int | None = None,
    variation_amount: float = 0.0,
    perlin: float = 0.0,
) -> torch.Tensor:
    """The starting noise for one image.

    The base seed's noise is slerped towards each ``with_variations`` seed in turn, then towards
    ``variation_seed`` by ``variation_amount``; this chain is what the metadata records, so the
    image regenerates exactly from it. Perlin noise is blended in last.
    """
    x = gaussian_noise(seed, shape)
    for v_seed, weight in with_variations:
        x = slerp(float(weight), x, gaussian_noise(int(v_seed), shape))
    if variation_seed is not None and variation_amount > 0:
        x = slerp(float(variation_amount), x, gaussian_noise(variation_seed, shape))
    if perlin > 0:
        x = (1 - perlin) * x + perlin * perlin_noise(seed, shape)
    return x


class SeededNoise:
    """The noise source of one image of a request: its starting noise for any latent shape, the seed
    of the noise ancestral samplers draw per step, and the hires fix's second-pass noise."""

    def __init__(self, request: GenerationRequest, plan: ImagePlan) -> None:
        self.request = request
        self.plan = plan

    @property
    def sampler_seed(self) -> int:
        return self.plan.sampler_seed

    def initial(self, shape: Sequence[int]) -> torch.Tensor:
        r = self.request
        return initial_noise(self.plan.noise_seed, shape, r.with_variations, self.plan.variation_seed,
                             r.variation_amount, r.perlin)

    def second_pass(self, shape: Sequence[int]) -> torch.Tensor:
        return gaussian_noise(self.sampler_seed + 1, shape)
