import pytest
import torch

from nodecode.errors import CheckpointError
from nodecode.train.state import load_train_state, save_train_state, saved_step


def model_and_optimizer(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def take_a_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad()
    model(torch.randn(8, 4)).square().mean().backward()
    optimizer.step()


class Payload:
    """Not a tensor or a plain container: pickle would have to run code to rebuild it."""


def test_round_trip_restores_model_optimizer_rng_and_step(tmp_path):
    model, optimizer = model_and_optimizer(0)
    take_a_step(model, optimizer)
    save_train_state(tmp_path / "s.pt", model, optimizer, 7, {"lr": 1e-3, "data": "x"})
    expected_draw = torch.rand(3)
    other, other_optimizer = model_and_optimizer(1)
    step, config = load_train_state(tmp_path / "s.pt", other, other_optimizer)
    assert (step, config) == (7, {"lr": 1e-3, "data": "x"})
    assert torch.equal(torch.rand(3), expected_draw)
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    for net, opt in ((model, optimizer), (other, other_optimizer)):  # the same next step:
        torch.manual_seed(5)  # the Adam moments were restored too
        take_a_step(net, opt)
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    assert saved_step(tmp_path / "s.pt") == 7 and saved_step(tmp_path / "none.pt") == 0
    assert [p.name for p in tmp_path.iterdir()] == ["s.pt"]  # no temporary left behind


def test_files_that_need_pickle_or_are_not_train_states_are_refused(tmp_path):
    model, optimizer = model_and_optimizer(0)
    torch.save({"kind": "train-state", "payload": Payload()}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="code.pt: not a readable train state"):
        load_train_state(tmp_path / "code.pt", model, optimizer)
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable train state"):
        load_train_state(tmp_path / "junk.pt", model, optimizer)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a nodecode train state"):
        saved_step(tmp_path / "other.pt")


def test_a_state_of_another_model_or_optimizer_count_is_a_clear_error(tmp_path):
    model, optimizer = model_and_optimizer(0)
    save_train_state(tmp_path / "s.pt", model, optimizer, 1, {})
    wider = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5))
    with pytest.raises(CheckpointError, match="does not fit this run's model"):
        load_train_state(tmp_path / "s.pt", wider, torch.optim.Adam(wider.parameters()))
    with pytest.raises(CheckpointError, match="holds 1 optimizers, this run has 2"):
        load_train_state(tmp_path / "s.pt", model, (optimizer, optimizer))
