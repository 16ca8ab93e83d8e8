"""Augmentation: Gaussian noise and mixup, seeded through a torch.Generator."""

from __future__ import annotations

import pytest
import torch

from phoneprice_edge.data.augment import augment_batch, gaussian_noise, mixup, sample_beta


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_noise_off_and_on() -> None:
    z = torch.zeros(4000, 20)
    assert gaussian_noise(z, 0.0, _gen()) is z
    noisy = gaussian_noise(z, 0.1, _gen())
    assert abs(noisy.std().item() - 0.1) < 0.005 and abs(noisy.mean().item()) < 0.005
    assert torch.equal(noisy, gaussian_noise(z, 0.1, _gen()))
    assert not torch.equal(noisy, gaussian_noise(z, 0.1, _gen(1)))
    with pytest.raises(ValueError, match="sigma"):
        gaussian_noise(z, -1.0, _gen())


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_beta_sampler_moments(alpha: float) -> None:
    lam = sample_beta(alpha, 40000, _gen(), dtype=torch.float64)
    assert ((lam >= 0) & (lam <= 1)).all()
    var = 1.0 / (4.0 * (2.0 * alpha + 1.0))
    assert abs(lam.mean().item() - 0.5) < 0.01
    assert abs(lam.var().item() - var) < 0.01


def test_mixup() -> None:
    g = _gen(3)
    x = torch.randn(64, 5, generator=g)
    y = torch.nn.functional.one_hot(torch.arange(64) % 4, 4).float()
    assert mixup(x, y, 0.0, _gen()) == (x, y)
    xm, ym = mixup(x, y, 0.4, _gen(1))
    assert xm.shape == x.shape and ym.shape == y.shape
    torch.testing.assert_close(ym.sum(dim=1), torch.ones(64))
    assert not torch.equal(xm, x)
    # each row mixed with a row of another class is lam * own + (1 - lam) * some other row of x
    own = torch.arange(64) % 4
    mixed = (ym > 0).sum(dim=1) == 2
    assert mixed.sum() > 20
    for i in torch.nonzero(mixed).flatten().tolist():
        lam = ym[i, own[i]]
        partner = (xm[i] - lam * x[i]) / (1 - lam)
        # float32 rounding of xm is amplified by 1 / (1 - lam) when lam is close to 1
        assert torch.cdist(partner[None], x).min() < 1e-3 + 1e-4 / float(1 - lam)
    xm2, _ = mixup(x, y, 0.4, _gen(1))
    assert torch.equal(xm, xm2)


def test_augment_batch_defaults_are_identity() -> None:
    z, y = torch.randn(8, 3), torch.eye(8)[:, :4]
    out_z, out_y = augment_batch(z, y, _gen())
    assert out_z is z and out_y is y
