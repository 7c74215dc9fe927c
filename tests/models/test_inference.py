import pytest
import torch
from torch import nn

from nodecode import models
from nodecode.models.inference import for_inference


@pytest.mark.parametrize(
    ("name", "channels", "size"),
    [("cresnet39", 8, 16), ("resnet50", 3, 64), ("cresnet51-d", 8, 12)],
)
def test_folded_channels_last_network_computes_the_same_function(name, channels, size):
    torch.manual_seed(0)
    model = models.create(name, num_classes=7, in_channels=channels, width=0.125)
    for m in model.modules():  # trained-looking statistics, so folding has work to do
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    model.eval()
    fast = for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is kept
    x = torch.rand(2, channels, size, size)
    with torch.no_grad():
        assert torch.allclose(fast(x), model(x), atol=1e-4, rtol=1e-4)


def test_compiled_network_computes_the_same_function_at_each_input_shape():
    """Frozen compilation recompiles per input shape (a last, smaller batch); each shape
    must give what the eager network gives."""
    torch.manual_seed(0)
    model = models.create("cresnet39", num_classes=5, in_channels=4, width=0.0625).eval()
    compiled = for_inference(model, compile=True)
    with torch.inference_mode():
        for batch in (2, 1):
            x = torch.rand(batch, 4, 8, 8)
            assert torch.allclose(compiled(x), model(x), atol=1e-4, rtol=1e-4)


def test_a_network_that_cannot_compile_is_one_clean_error(monkeypatch):
    from torch._dynamo.exc import BackendCompilerFailed

    from nodecode.errors import ConfigError

    model = models.create("cresnet39", num_classes=5, in_channels=4, width=0.0625).eval()
    compiled = for_inference(model, compile=True)

    class Failing(nn.Module):  # what inductor raises where it finds no C++ compiler
        def forward(self, *args, **kwargs):
            raise BackendCompilerFailed(None, RuntimeError("no C++ compiler found"), None)

    monkeypatch.setattr(compiled, "compiled", Failing())
    with pytest.raises(ConfigError, match="--compile: .*no C\\+\\+ compiler found"):
        compiled(torch.rand(1, 4, 8, 8))
