import math

import pytest
import torch

from nodecode.codec.entropy import (
    empirical_entropy_bits,
    entropy_bits,
    mean_entropy_bits,
    soft_histogram,
)


def test_entropy_of_known_distributions():
    probs = torch.tensor([[0.5, 0.25, 0.25, 0.0], [1.0, 0.0, 0.0, 0.0], [0.25] * 4])
    torch.testing.assert_close(entropy_bits(probs), torch.tensor([1.5, 0.0, 2.0]))


def test_soft_histogram_of_hard_assignments_is_the_empirical_distribution():
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([0.6, 0.3, 0.1])
    symbols = torch.multinomial(p, 2 * 3 * 40 * 40, replacement=True, generator=generator)
    symbols = symbols.reshape(2, 3, 40, 40)
    one_hot = torch.nn.functional.one_hot(symbols, 3).float()
    histogram = soft_histogram(one_hot)
    assert histogram.shape == (3, 3)
    torch.testing.assert_close(histogram.sum(1), torch.ones(3))
    expected = -(p * torch.log2(p)).sum().item()  # 1.2955 bits
    assert mean_entropy_bits(one_hot).item() == pytest.approx(expected, abs=0.02)
    assert empirical_entropy_bits(symbols, 3).mean().item() == pytest.approx(expected, abs=0.02)


def test_empirical_entropy_per_channel():
    symbols = torch.zeros(1, 2, 4, 4, dtype=torch.long)
    symbols[0, 1, :2] = 1
    assert empirical_entropy_bits(symbols, 6).tolist() == [0.0, pytest.approx(1.0)]
    assert math.isclose(empirical_entropy_bits(symbols[0], 6)[1].item(), 1.0)


def test_hard_rate_has_the_hard_value_and_the_soft_gradient():
    from nodecode.codec.entropy import hard_entropy_bits
    from nodecode.codec.quantizer import SoftToHardQuantizer

    quantizer = SoftToHardQuantizer(num_centers=6)
    z = (torch.randn(2, 3, 8, 8) * 0.7).requires_grad_()
    q = quantizer(z)
    rate = hard_entropy_bits(q.soft_assignment, q.symbols)
    hard = empirical_entropy_bits(q.symbols, 6).mean().item()
    soft = mean_entropy_bits(q.soft_assignment).item()
    assert rate.item() == pytest.approx(hard, abs=1e-5)
    assert soft > hard + 0.05  # the soft histogram overestimates the rate at σ = 1
    rate.backward()
    assert z.grad.abs().sum() > 0 and quantizer.centers.grad.abs().sum() > 0
