import torch
from torch import nn

from nodecode.evaluate.cost import count_macs, network_costs, pipeline_costs


def test_count_macs_of_a_known_layer():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_macs(conv, torch.zeros(1, 3, 10, 10)) == 10 * 10 * 8 * 3 * 9


def test_cost_tables_cover_every_network_and_pipeline():
    rows = network_costs(width=0.125, latent_channels=8)
    names = {(r.task, r.name) for r in rows}
    assert ("classification", "cresnet51") in names and ("segmentation", "resnet71-d") in names
    assert ("classification", "encoder") in names and ("segmentation", "decoder") in names
    assert all(r.paper_macs is None for r in rows)  # paper numbers only at the paper's sizes
    pipelines = {p["pipeline"]: p for p in pipeline_costs(rows) if p["task"] == "classification"}
    decoder = next(r.macs for r in rows if r.name == "decoder" and r.task == "classification")
    resnet50 = next(r.macs for r in rows if r.name == "resnet50")
    assert pipelines["decode + resnet50"]["total_macs"] == resnet50 + decoder
    assert (
        pipelines["cresnet51 on latent"]["total_macs"]
        == pipelines["cresnet51 on latent"]["network_macs"]
    )
