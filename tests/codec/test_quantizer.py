import torch

from nodecode.codec.quantizer import SoftToHardQuantizer


def test_forward_equals_nearest_center():
    q = SoftToHardQuantizer(num_centers=5, init_range=2.0)
    z = torch.randn(3, 4, 5, 6) * 2
    out = q(z)
    nearest = (z.unsqueeze(-1) - q.centers).abs().argmin(-1)
    assert torch.equal(out.symbols, nearest)
    assert torch.equal(out.values, q.centers[nearest])
    assert torch.equal(q.symbols(z), nearest)
    assert torch.equal(q.dequantize(out.symbols), out.values)


def test_backward_uses_the_soft_assignment_gradient():
    q = SoftToHardQuantizer(num_centers=5, init_range=2.0, sigma=1.0)
    z = torch.randn(64, requires_grad=True)
    q(z).values.sum().backward()
    z_ref = z.detach().clone().requires_grad_(True)
    phi = torch.softmax(-((z_ref.unsqueeze(-1) - q.centers.detach()) ** 2), -1)
    (phi * q.centers.detach()).sum(-1).sum().backward()
    torch.testing.assert_close(z.grad, z_ref.grad)
    assert q.centers.grad is not None and q.centers.grad.abs().sum() > 0
