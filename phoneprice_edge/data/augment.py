"""Training-time augmentation on standardised features (off unless asked): Gaussian noise, mixup."""

from __future__ import annotations

import torch


def gaussian_noise(z: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """z + N(0, sigma^2) noise drawn from generator; z itself when sigma <= 0."""
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return z
    noise = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
    return z + sigma * noise


def sample_beta(alpha: float, n: int, generator: torch.Generator,
                dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """n draws of Beta(alpha, alpha) from generator (torch.distributions takes no generator)."""
    a = _sample_gamma(alpha, n, generator, device)
    b = _sample_gamma(alpha, n, generator, device)
    return (a / (a + b)).to(dtype)


def _sample_gamma(shape: float, n: int, generator: torch.Generator,
                  device: torch.device | str) -> torch.Tensor:
    """Gamma(shape, 1) by Marsaglia-Tsang rejection (boosted by U^(1/shape) for shape < 1)."""
    boost = shape < 1.0
    a = shape + 1.0 if boost else shape
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    out = torch.empty(n, dtype=torch.float64, device=device)
    todo = torch.arange(n, device=device)
    while todo.numel():
        m = todo.numel()
        x = torch.randn(m, generator=generator, dtype=torch.float64, device=device)
        u = torch.rand(m, generator=generator, dtype=torch.float64, device=device)
        v = (1.0 + c * x) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
    if boost:
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=device)
        out = out * u.clamp_min(1e-300) ** (1.0 / shape)
    return out.clamp_min(1e-300)


def mixup(x: torch.Tensor, y_onehot: torch.Tensor, alpha: float,
          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each row with a random partner: lam ~ Beta(alpha, alpha) per row; (x, y) when alpha <= 0."""
    if alpha < 0:
        raise ValueError(f"mixup alpha must be >= 0, got {alpha}")
    if alpha == 0 or x.shape[0] < 2:
        return x, y_onehot
    if y_onehot.shape[0] != x.shape[0]:
        raise ValueError(f"mixup: {x.shape[0]} rows of x but {y_onehot.shape[0]} of y_onehot")
    n = x.shape[0]
    lam = sample_beta(alpha, n, generator, dtype=x.dtype, device=x.device).unsqueeze(1)
    perm = torch.randperm(n, generator=generator, device=x.device)
    x_mix = lam * x + (1.0 - lam) * x[perm]
    y_mix = lam.to(y_onehot.dtype) * y_onehot + (1.0 - lam.to(y_onehot.dtype)) * y_onehot[perm]
    return x_mix, y_mix


def augment_batch(z: torch.Tensor, y_onehot: torch.Tensor, generator: torch.Generator, *,
                  noise_sigma: float = 0.0, mixup_alpha: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise then mixup with the given strengths; both 0 (the default) returns the batch unchanged."""
    z = gaussian_noise(z, noise_sigma, generator)
    return mixup(z, y_onehot, mixup_alpha, generator)
