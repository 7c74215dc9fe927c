import pytest
import torch
import torchvision
from torch import nn

from nodecode import models
from nodecode.errors import CheckpointError, ConfigError
from nodecode.evaluate.cost import count_macs, count_params
from nodecode.models import init_from_classifier
from nodecode.models.segmentation import load_classifier_into
from nodecode.utils.checkpoint import save_tensors

SMALL = 0.125


def test_registry_lists_every_network_and_rejects_unknown_names():
    names = {"resnet50", "resnet71", "cresnet39", "cresnet51", "cresnet72"}
    assert set(models.list_models()) == names | {f"{n}-d" for n in names}
    with pytest.raises(ConfigError, match="unknown model 'resnet18'"):
        models.create("resnet18")


def test_full_width_resnet50_has_torchvisions_parameter_count():
    ours = models.create("resnet50", num_classes=1000)
    assert count_params(ours) == count_params(torchvision.models.resnet50()) == 25_557_032


@pytest.mark.parametrize(
    ("name", "blocks"),
    [
        ("resnet50", (3, 4, 6, 3)),
        ("resnet71", (3, 4, 13, 3)),
        ("cresnet39", (0, 4, 6, 3)),
        ("cresnet51", (0, 4, 10, 3)),
        ("cresnet72", (0, 4, 17, 3)),
    ],
)
def test_block_counts_follow_table_1(name, blocks):
    backbone = models.create(name, width=SMALL).backbone
    counted = [
        len(layer) if isinstance(layer, nn.Sequential) else 0
        for layer in (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4)
    ]
    assert tuple(counted) == blocks


def test_mac_ratios_match_the_paper_within_3_percent():
    rgb = torch.zeros(1, 3, 224, 224)
    latent = torch.zeros(1, 32, 28, 28)
    macs = {
        n: count_macs(models.create(n), latent if n.startswith("c") else rgb)
        for n in ("resnet50", "resnet71", "cresnet39", "cresnet51", "cresnet72")
    }
    assert macs["cresnet39"] / macs["resnet50"] == pytest.approx(0.764, rel=0.03)
    assert macs["cresnet51"] / macs["resnet50"] == pytest.approx(0.992, rel=0.03)
    assert macs["resnet71"] / macs["resnet50"] == pytest.approx(1.394, rel=0.03)
    assert macs["cresnet72"] / macs["resnet71"] == pytest.approx(0.996, rel=0.03)


@pytest.mark.parametrize("size", [(64, 64), (97, 119), (33, 40)])
def test_classifiers_take_any_input_size(size):
    rgb = models.create("resnet50", num_classes=10, width=SMALL)
    assert rgb(torch.rand(2, 3, *size)).shape == (2, 10)
    latent = models.create("cresnet51", num_classes=10, width=SMALL, in_channels=8)
    assert latent(torch.rand(2, 8, size[0] // 8 + 1, size[1] // 8)).shape == (2, 10)


@pytest.mark.parametrize("size", [(64, 64), (97, 119), (41, 30)])
def test_segmenters_give_per_pixel_scores_at_image_size(size):
    rgb = models.create("resnet50-d", num_classes=11, width=SMALL)
    assert rgb(torch.rand(1, 3, *size)).shape == (1, 11, *size)
    latent_size = (-(-size[0] // 8), -(-size[1] // 8))
    seg = models.create("cresnet39-d", num_classes=11, width=SMALL, in_channels=16)
    z = torch.rand(1, 16, *latent_size)
    assert seg(z).shape == (1, 11, latent_size[0] * 8, latent_size[1] * 8)
    assert seg(z, output_size=size).shape == (1, 11, *size)


def test_forward_and_backward_on_cpu():
    for name, x in (
        ("cresnet72", torch.rand(2, 16, 9, 9)),
        ("resnet71-d", torch.rand(2, 3, 40, 40)),
    ):
        net = models.create(name, num_classes=5, width=SMALL, in_channels=x.shape[1])
        net(x).sum().backward()
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_output_stride_is_8_for_resnet_d_and_1_for_cresnet_d():
    rgb = models.create("resnet50-d", width=SMALL).backbone.eval()
    assert rgb(torch.rand(1, 3, 64, 96)).shape[-2:] == (8, 12)
    latent = models.create("cresnet51-d", width=SMALL, in_channels=8).backbone.eval()
    assert latent(torch.rand(1, 8, 11, 13)).shape[-2:] == (11, 13)
    plain = models.create("cresnet51", width=SMALL, in_channels=8).backbone.eval()
    assert plain(torch.rand(1, 8, 28, 28)).shape[-2:] == (7, 7)


def receptive_field(backbone: nn.Module, channels: int, size: int) -> int:
    """Rows of the input that influence the center output pixel."""
    for p in backbone.parameters():
        torch.nn.init.constant_(p, 0.01)
    x = torch.rand(1, channels, size, size, requires_grad=True)
    y = backbone.eval()(x)
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    return int((x.grad.abs().sum(dim=(0, 1, 3)) > 0).sum())


def test_dilation_is_really_applied_and_grows_the_receptive_field():
    backbone = models.create("cresnet39-d", width=SMALL, in_channels=4).backbone
    # torchvision's convention: a stage's first block keeps the previous dilation.
    assert backbone.layer3[-1].conv2.dilation == (2, 2)
    assert backbone.layer4[-1].conv2.dilation == (4, 4)
    assert all(m.stride == (1, 1) for m in backbone.modules() if isinstance(m, nn.Conv2d))
    dilated = receptive_field(backbone, 4, 61)
    for m in backbone.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            m.dilation, m.padding = (1, 1), (1, 1)
    assert dilated > receptive_field(backbone, 4, 61)


def test_networks_on_16x_latents_keep_image_over_32_features_and_image_size_masks():
    """CompressAI's ŷ is 16× downsampled: conv4_x then keeps its resolution, so a 224²
    image's 14² latent ends at 7², like ResNet-50 on the image and cResNets on 28² latents."""
    net = models.create("cresnet39", num_classes=23, in_channels=192, width=SMALL, latent_stride=16)
    assert net.backbone.eval()(torch.rand(1, 192, 14, 14)).shape[-2:] == (7, 7)
    assert net(torch.rand(2, 192, 14, 14)).shape == (2, 23)
    seg = models.create(
        "cresnet39-d", num_classes=5, in_channels=192, width=SMALL, latent_stride=16
    ).eval()
    assert seg(torch.rand(1, 192, 4, 4)).shape == (1, 5, 64, 64)  # was 32² at a fixed 8
    assert seg(torch.rand(1, 192, 4, 5), output_size=(61, 77)).shape == (1, 5, 61, 77)
    with pytest.raises(ValueError, match="latent_stride 4"):
        models.create("cresnet39", in_channels=192, width=SMALL, latent_stride=4)


def test_two_branch_adapter_for_hyperprior_latents():
    net = models.create("cresnet39", num_classes=23, in_channels=192, branches=2, width=SMALL)
    y_hat, sigma_hat = torch.rand(2, 192, 14, 14), torch.rand(2, 192, 14, 14)
    assert net(torch.cat([y_hat, sigma_hat], 1)).shape == (2, 23)
    with pytest.raises(ValueError, match=r"expected input \(N, 384, H, W\)"):
        net(y_hat)


def test_segmenter_initialised_from_a_classification_checkpoint(tmp_path):
    classifier = models.create("cresnet51", num_classes=10, width=SMALL, in_channels=8)
    path = tmp_path / "classifier.safetensors"
    save_tensors(path, classifier.state_dict(), "classifier", {"model": "cresnet51"})
    segmenter = models.create("cresnet51-d", num_classes=11, width=SMALL, in_channels=8)
    head_before = {k: v.clone() for k, v in segmenter.head.state_dict().items()}
    moved = load_classifier_into(segmenter, path)
    assert moved == len(classifier.backbone.state_dict())
    for key, value in classifier.backbone.state_dict().items():
        assert torch.equal(segmenter.backbone.state_dict()[key], value), key
    for key, value in segmenter.head.state_dict().items():
        assert torch.equal(value, head_before[key])
    other = models.create("cresnet51-d", width=SMALL, in_channels=16)
    with pytest.raises(CheckpointError, match="different width or input"):
        init_from_classifier(other, classifier.state_dict())
    with pytest.raises(CheckpointError, match="does not match"):
        init_from_classifier(
            segmenter, models.create("cresnet39", width=SMALL, in_channels=8).state_dict()
        )
