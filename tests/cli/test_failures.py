"""How the CLI fails: one line naming the problem, an exit code by kind, nothing half-written."""

import os
import time
from pathlib import Path

import pytest

from nodecode.cli.main import EXIT_ERROR, EXIT_INTERNAL, EXIT_USAGE, main
from nodecode.codec import save_codec
from nodecode.data.images import save_image
from nodecode.utils.io import atomic_write_bytes

WEIGHTS = Path(__file__).parents[2] / "src" / "nodecode" / "models" / "weights"


@pytest.fixture
def workspace(tmp_path, tiny_codec, photo):
    save_codec(tiny_codec, tmp_path / "tiny.safetensors")
    save_image(photo, tmp_path / "a" / "photo.png")
    save_image(photo[:, :40, :40], tmp_path / "b" / "photo.jpg")
    return tmp_path


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_usage_errors_keep_argparse_code(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compress"])
    assert exit_info.value.code == EXIT_USAGE != EXIT_ERROR


def test_output_that_is_a_file_or_under_one(workspace, capsys):
    codec, image = workspace / "tiny.safetensors", workspace / "a" / "photo.png"
    (workspace / "taken").write_text("x")
    code, err = run(capsys, "compress", image, "--codec", codec, "-o", workspace / "taken")
    assert code == EXIT_ERROR and "-o " in err and "taken: is a file, not a directory" in err
    code, err = run(capsys, "compress", image, "--codec", codec, "-o", workspace / "taken" / "sub")
    assert code == EXIT_ERROR and "cannot create it" in err and "taken is a file, not a" in err
    # folders made deep inside a command (mkdir says only "File exists" or "Not a directory")
    code, err = run(capsys, "reproduce", "--preset", "tiny", "-o", workspace / "taken")
    assert code == EXIT_ERROR and f"{workspace / 'taken'} is a file, not a directory" in err
    out = workspace / "taken" / "codec.safetensors"
    code, err = run(capsys, "train-codec", "--op", "0.330", "--data", workspace / "a", "-o", out)
    assert code == EXIT_ERROR and f"{workspace / 'taken'}: is a file, not a directory" in err


def test_inputs_with_the_same_stem_are_refused_before_any_output(workspace, capsys):
    inputs = [workspace / "a" / "photo.png", workspace / "b" / "photo.jpg"]
    code, err = run(
        capsys,
        "compress",
        *inputs,
        "--codec",
        workspace / "tiny.safetensors",
        "-o",
        workspace / "out",
    )
    assert code == EXIT_ERROR and "would both be written to" in err and "photo.ndc" in err
    assert not list((workspace / "out").iterdir())


def test_task_model_of_the_other_kind(workspace, capsys):
    ndc = workspace / "ndc" / "photo.ndc"
    main(
        [
            "compress",
            str(workspace / "a" / "photo.png"),
            "--codec",
            str(workspace / "tiny.safetensors"),
            "-o",
            str(ndc.parent),
        ]
    )
    segmenter = WEIGHTS / "cresnet51-d-0.330.safetensors"
    code, err = run(capsys, "classify", ndc, "--model", segmenter)
    assert code == EXIT_ERROR and "is a segmentation model" in err and "nodecode segment" in err
    classifier = WEIGHTS / "cresnet51-0.330.safetensors"
    code, err = run(capsys, "segment", ndc, "--model", classifier, "-o", workspace / "m")
    assert code == EXIT_ERROR and "nodecode classify" in err


def test_bugs_are_one_line_with_a_debug_flag_for_the_traceback(workspace, capsys, monkeypatch):
    def broken(path):
        raise TypeError("simulated bug")

    monkeypatch.setattr("nodecode.cli.codec_files.load_image", broken)
    argv = [
        "compress",
        workspace / "a" / "photo.png",
        "--codec",
        workspace / "tiny.safetensors",
        "-o",
        workspace / "out",
    ]
    code, err = run(capsys, *argv)
    assert code == EXIT_INTERNAL and "TypeError: simulated bug" in err and "--debug" in err
    with pytest.raises(TypeError, match="simulated bug"):
        main(["--debug", *map(str, argv)])


def test_stale_temporaries_of_killed_writers_are_cleared(tmp_path):
    target = tmp_path / "x.ndc"
    dead_pid = max_dead_pid()
    stale = tmp_path / f".x.ndc.{dead_pid}-abc.tmp.ndc"
    young = tmp_path / f".x.ndc.{dead_pid}-new.tmp.ndc"
    live = tmp_path / f".x.ndc.{os.getpid()}-def.tmp.ndc"
    for path in (stale, young, live):
        path.write_bytes(b"debris")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(live, (hour_ago, hour_ago))
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert not stale.exists() and young.exists() and live.exists()


def max_dead_pid() -> int:
    """A pid with no process behind it."""
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) - 1
    while pid > 1:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
    raise RuntimeError("no free pid")


def test_command_table_matches_what_the_modules_register():
    import argparse

    from nodecode.cli.main import COMMANDS, command_module

    for name, (_, help_text) in COMMANDS.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        command_module(name).register(subparsers)
        registered = {a.dest: a.help for a in subparsers._choices_actions}
        assert registered[name] == help_text
        assert set(registered) <= set(COMMANDS)


def test_version_and_help_import_no_command_module():
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from nodecode.cli.main import main\n"
        "for argv in (['--version'], ['--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
        "print(sorted(m for m in ('torch', 'compressai', 'nodecode.codec') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_classify_takes_shipped_model_names(tmp_path, photo, capsys):
    from nodecode.cli.main import main as cli

    save_image(photo, tmp_path / "photo.png")
    assert (
        cli(
            ["compress", str(tmp_path / "photo.png"), "--codec", "paper-0.330", "-o", str(tmp_path)]
        )
        == 0
    )
    capsys.readouterr()
    code = cli(
        ["classify", str(tmp_path / "photo.ndc"), "--model", "cresnet51-0.330", "--top", "2"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.count(".") >= 2 and "photo.ndc:" in out


def test_batched_classify_answers_as_file_by_file(tmp_path, photo, capsys, compiled_modules):
    import json

    from nodecode.cli.main import main as cli

    for i, (y, x) in enumerate([(0, 0), (8, 16), (24, 8)]):
        save_image(photo[:, y : y + 64, x : x + 64], tmp_path / f"p{i}.png")
    images = [str(tmp_path / f"p{i}.png") for i in range(3)]
    assert cli(["compress", *images, "--codec", "paper-0.330", "-o", str(tmp_path / "ndc")]) == 0
    files = [str(tmp_path / "ndc" / f"p{i}.ndc") for i in range(3)]
    answers = []
    for i, (batch, workers, *extra) in enumerate(
        (("1", "0"), ("2", "0"), ("2", "2"), ("2", "0", "--compile"))
    ):
        out = tmp_path / f"{i}.json"
        argv = ["classify", *files, "--model", "cresnet51-0.330", "--batch-size", batch, *extra]
        assert cli([*argv, "--workers", workers, "--json", str(out)]) == 0
        answers.append(json.loads(out.read_text()))
    capsys.readouterr()
    assert len(compiled_modules) == 1  # --compile reached the network
    for one, *others in zip(*answers, strict=True):
        for batched in others:  # in order, the same answers, decoded in workers, compiled
            assert one["file"] == batched["file"]
            assert [t["label"] for t in one["top"]] == [t["label"] for t in batched["top"]]
            assert one["top"][0]["p"] == pytest.approx(batched["top"][0]["p"], abs=1e-5)


def test_a_bad_file_decoded_in_a_worker_is_one_clean_error(tmp_path, photo, capsys):
    from nodecode.cli.main import main as cli

    save_image(photo[:, :64, :64], tmp_path / "p.png")
    assert (
        cli(["compress", str(tmp_path / "p.png"), "--codec", "paper-0.330", "-o", str(tmp_path)])
        == 0
    )
    capsys.readouterr()
    bad = tmp_path / "bad.ndc"
    data = bytearray((tmp_path / "p.ndc").read_bytes())
    data[-3] ^= 0xFF  # the payload's CRC no longer matches
    bad.write_bytes(bytes(data))
    argv = ["classify", str(tmp_path / "p.ndc"), str(bad), "--model", "cresnet51-0.330"]
    code = cli([*argv, "--workers", "1", "--codec", "paper-0.330"])
    err = capsys.readouterr().err
    assert code == 1 and "bad.ndc" in err and "Traceback" not in err and "worker" not in err


def test_readme_shows_every_command():
    from nodecode.cli.main import COMMANDS

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert [name for name in COMMANDS if f"nodecode {name}" not in readme] == []


@pytest.mark.parametrize("workers", ["-1", "two"])
def test_a_bad_non_negative_int_is_a_usage_error(tmp_path, workers, capsys):
    from nodecode.cli.main import main as cli

    argv = ["classify", str(tmp_path / "a.ndc"), "--model", "cresnet51-0.330"]
    with pytest.raises(SystemExit) as exit_info:
        cli([*argv, "--workers", workers])
    assert exit_info.value.code == 2 and "--workers" in capsys.readouterr().err


def readme_command_lines(readme: str) -> list[list[str]]:
    """The words of every `nodecode …` command in README's shell blocks, continuation
    lines joined and comments dropped."""
    commands, current, in_shell = [], "", False
    for line in readme.splitlines():
        if line.startswith("```"):
            in_shell = line.strip() == "```sh"
            continue
        if not in_shell:
            continue
        code = line.split("#", 1)[0]
        current = current + " " + code if current else code
        if code.rstrip().endswith("\\"):
            current = current.rstrip().rstrip("\\")
            continue
        words = current.replace("[", " ").replace("]", " ").split()
        if "nodecode" in words:
            commands.append(words[words.index("nodecode") + 1 :])
        current = ""
    return commands


def test_readme_flags_are_the_commands_own():
    """Every option README shows for a command is one its parser accepts (README's command
    lines are its CLI table: they must not drift from `--help`)."""
    import argparse

    from nodecode.cli.main import COMMANDS, build_parser

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    unknown, seen = [], set()
    for words in readme_command_lines(readme):
        if not words or words[0] not in COMMANDS:
            continue
        parser = build_parser(words[0])
        (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        command = commands.choices[words[0]]
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        if nested and len(words) > 1 and words[1] in nested[0].choices:  # `data photos`, …
            command = nested[0].choices[words[1]]
        options = {o for action in command._actions for o in action.option_strings}
        flags = [w.split("=")[0] for w in words[1:] if w.startswith("-") and w != "-"]
        unknown += [f"{' '.join(words[:2])}: {f}" for f in flags if f not in options]
        seen.add(words[0])
    assert unknown == []
    assert len(seen) >= 15  # the parsing found README's commands


def test_every_command_takes_download_for_itself_only(monkeypatch):
    """`--download` on any verb allows downloads (the switch every loader reads) while that
    verb runs, and not after."""
    from argparse import _SubParsersAction as _SubParsers

    import nodecode.cli.zoo
    from nodecode.cli.main import COMMANDS, build_parser
    from nodecode.utils.network import DOWNLOAD_ENV, downloads_allowed

    for name in COMMANDS:
        (commands,) = [a for a in build_parser(name)._actions if isinstance(a, _SubParsers)]
        command = commands.choices[name]
        nested = [a for a in command._actions if isinstance(a, _SubParsers)]
        for parser in nested[0].choices.values() if nested else [command]:
            assert "--download" in parser._option_string_actions, name
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    seen = []
    monkeypatch.setattr(nodecode.cli.zoo, "run", lambda args: seen.append(downloads_allowed()))
    assert main(["zoo"]) == 0 and main(["zoo", "--download"]) == 0
    assert seen == [False, True] and not downloads_allowed()


def test_threads_sets_torchs_thread_count_for_any_verb(tmp_path, photo, monkeypatch, capsys):
    import torch

    from nodecode.cli.main import main as cli

    save_image(photo, tmp_path / "p.png")
    before = torch.get_num_threads()
    try:
        argv = ["compress", str(tmp_path / "p.png"), "--codec", "small-0.330", "-o", str(tmp_path)]
        assert cli([*argv, "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("NODECODE_THREADS", "2")
        assert cli(["info", str(tmp_path / "p.ndc")]) == 0
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("NODECODE_THREADS", "many")
        with pytest.raises(SystemExit) as exit_info:
            cli(["info", str(tmp_path / "p.ndc")])
        assert exit_info.value.code == 2 and "--threads: 'many'" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)
