"""The shared optimisation loop: what it steps, averages, logs, saves and when it stops."""

import pytest
import torch

from nodecode.train.engine import (
    Optimization,
    StepLog,
    StepSchedule,
    repeat_epochs,
    train_one_epoch,
    train_steps,
)


def _regression(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 1)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    def objective(batch):
        inputs, target = batch
        mse = torch.nn.functional.mse_loss(model(inputs), target)
        return {"loss": mse, "half": mse / 2}

    return model, objective, Optimization(optimizer, scheduler), batches


def test_an_epoch_learns_and_reports_the_mean_of_every_term():
    _, objective, optimization, batches = _regression()
    first = train_one_epoch(objective, optimization, batches)
    assert first.steps == len(batches)
    assert first.means["half"] == pytest.approx(first.means["loss"] / 2)
    later = train_one_epoch(objective, optimization, repeat_epochs(batches), steps=5 * 8)
    assert later.steps == 40 and later.means["loss"] < 0.1 * first.means["loss"]
    assert optimization.scheduler.last_epoch == 48  # one schedule step per optimiser step


def test_a_hook_that_returns_true_ends_the_epoch_after_that_step():
    _, objective, optimization, batches = _regression()
    seen = []

    def stop_at_three(taken, terms):
        seen.append(taken)
        return taken == 3

    result = train_one_epoch(objective, optimization, batches, on_step=stop_at_three)
    assert result.steps == 3 and seen == [1, 2, 3]


def test_the_auxiliary_loss_steps_its_own_optimiser_after_the_main_step():
    model, objective, optimization, batches = _regression()
    extra = torch.nn.Parameter(torch.tensor(5.0))
    optimization.aux_optimizer = torch.optim.SGD([extra], lr=0.25)
    optimization.aux_loss = lambda: extra**2
    optimization.clip_max_norm, optimization.clip_parameters = 1e-3, list(model.parameters())
    before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    result = train_one_epoch(objective, optimization, batches, steps=1)
    assert extra.item() == pytest.approx(5.0 - 0.25 * 10.0)  # one aux step on d(x²) = 2x
    assert result.means["aux_loss"] == pytest.approx(25.0)
    step = (torch.nn.utils.parameters_to_vector(model.parameters()) - before).norm().item()
    assert step == pytest.approx(0.1 * 1e-3, rel=1e-3)  # lr × clipped gradient norm


def test_a_step_counted_run_logs_saves_and_stops_on_its_schedule(tmp_path):
    _, objective, optimization, batches = _regression()
    saved = []
    log = StepLog(tmp_path / "log.csv", {"mse": "loss"}, "test")
    reached = train_steps(
        objective,
        optimization,
        repeat_epochs(batches),
        step=0,
        schedule=StepSchedule(max_steps=11, log_every=4, checkpoint_every=5),
        log=log,
        save_state=saved.append,
    )
    assert reached == 11 and saved == [5, 10, 11]
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "step,mse,seconds" and [r.split(",")[0] for r in rows[1:]] == ["4", "8", "11"]
    saved.clear()
    reached = train_steps(  # a resumed chunk that runs out of time after one step
        objective,
        optimization,
        repeat_epochs(batches),
        step=11,
        schedule=StepSchedule(max_steps=100, log_every=50, checkpoint_every=50, time_limit=0),
        log=log,
        save_state=saved.append,
    )
    assert reached == 12 and saved == [12]  # out of time: the state is saved at the step reached
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 4  # appended, not rewritten


def test_a_diverged_run_stops_with_a_clear_error_before_saving_nan_weights(tmp_path):
    from tqdm import tqdm

    from nodecode.errors import TrainingDivergedError
    from nodecode.train.engine import progress_hook

    _, objective, optimization, batches = _regression()

    calls = []

    def diverging(batch):  # finite for four steps, then NaN
        calls.append(1)
        terms = objective(batch)
        return terms if len(calls) <= 4 else {k: v * torch.nan for k, v in terms.items()}

    saved = []
    with pytest.raises(TrainingDivergedError, match="loss is nan at step 6"):
        train_steps(
            diverging,
            optimization,
            repeat_epochs(batches),
            step=0,
            schedule=StepSchedule(max_steps=20, log_every=3, checkpoint_every=2),
            log=StepLog(tmp_path / "log.csv", {"mse": "loss"}, "test"),
            save_state=saved.append,
        )
    assert saved == [2, 4]  # step 6 logs and saves: the NaN is caught first

    _, objective, optimization, batches = _regression()  # weights not NaN yet

    def infinite(batch):
        return {"loss": objective(batch)["loss"] * torch.inf}

    with tqdm(disable=True) as bar, pytest.raises(TrainingDivergedError, match="inf at step 1"):
        train_one_epoch(infinite, optimization, batches, on_step=progress_hook(bar))
