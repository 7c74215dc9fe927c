"""The resume check of every training loop: same settings, or an option added since."""

import dataclasses

from nodecode.train.runtime import same_settings
from nodecode.train.tasks import TaskTrainConfig


def test_a_run_saved_before_an_option_existed_still_resumes_at_its_default():
    config = TaskTrainConfig(model="cresnet51", epochs=4, val_fraction=0.1)
    saved = dataclasses.asdict(config)
    assert same_settings(saved, config)
    older = {k: v for k, v in saved.items() if k not in ("score_test", "crop", "precision")}
    assert same_settings(older, config)  # saved before those options existed
    # ... but not when the option is now set to something else than its default
    assert not same_settings(older, dataclasses.replace(config, score_test=False))
    assert not same_settings(saved, dataclasses.replace(config, epochs=5))
    assert not same_settings({**saved, "retired_option": 1}, config)


def test_settings_that_may_change_on_resume_are_left_out():
    from nodecode.train.codec import CodecTrainConfig
    from nodecode.train.runtime import RESUMABLE

    config = CodecTrainConfig(op="0.330", data="photos:train", max_steps=100)
    saved = {**dataclasses.asdict(config), "max_steps": 400, "init": "paper-0.330"}
    assert same_settings(saved, config, ignore=RESUMABLE | {"init"})
    assert not same_settings(saved, config, ignore=RESUMABLE)  # init is no setting
    assert not same_settings(saved, config, ignore={"init"})  # max_steps differs
    changed = dataclasses.replace(config, crop=64)
    assert not same_settings(saved, changed, ignore=RESUMABLE | {"init"})
