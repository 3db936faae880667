"""``python -m trainer.warm``: reads its job's arguments without eating the stop pipe's lines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from trainer import warm
from trainer.stopping import StopFlag


def test_the_arguments_line_leaves_the_stop_line_for_the_watcher() -> None:
    read, write = os.pipe()
    os.write(write, b'["classify", "RUN", "DIR"]\nstop\n')
    try:
        assert warm.parse_arguments(warm.read_line(read)) == ["classify", "RUN", "DIR"]
        flag = StopFlag()
        flag._read_until_stop(read)  # what the job's stdin watcher does with the rest
        assert flag()
    finally:
        os.close(read)
        os.close(write)


def test_end_of_input_reads_as_no_line() -> None:
    read, write = os.pipe()
    os.write(write, b'["runs"')
    os.close(write)
    try:
        assert warm.read_line(read) == b""
    finally:
        os.close(read)


@pytest.mark.parametrize(("line", "words"), [(b'{"argv": []}', "list of strings"), (b'["ok", 3]', "list of strings"),
                                             (b"not json", "Expecting value"), (b"\xff", "utf-8")])
def test_anything_but_a_list_of_strings_is_refused(line: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        warm.parse_arguments(line)


def test_a_spare_that_is_not_needed_leaves_quietly(tmp_path) -> None:  # noqa: ANN001
    done = subprocess.run([sys.executable, "-m", "trainer.warm"], input=b"", capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""


def test_a_spare_runs_its_job_like_the_trainer_program(tmp_path) -> None:  # noqa: ANN001
    cold = subprocess.run([sys.executable, "-m", "trainer", "models"], capture_output=True, timeout=120)
    spare = subprocess.run([sys.executable, "-m", "trainer.warm"], input=b'["models"]\n', capture_output=True,
                           timeout=120)
    assert spare.returncode == cold.returncode == 0
    assert spare.stdout == cold.stdout and b"mobilenet_v2" in spare.stdout
    bad = subprocess.run([sys.executable, "-m", "trainer.warm"], input=b'["nope"]\n', capture_output=True,
                         timeout=120)
    assert bad.returncode == 2 and b"trainer: error: argument command" in bad.stderr


@pytest.mark.parametrize(("code", "status", "said"),
                         [(None, 0, ""), (0, 0, ""), (3, 3, ""), ("bad luck", 1, "bad luck\n")])
def test_an_exit_ends_with_the_code_the_interpreter_would_give(code: object, status: int, said: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert warm.exit_code(SystemExit(code)) == status
    assert capsys.readouterr().err == said


def test_a_spare_has_imported_what_training_needs() -> None:
    """The compiler too (trainer.vision keeps it out of other jobs; a torch.optim optimizer's
    first call loads it: a training job in a spare would wait ~1 s for it)."""
    code = "import sys; from trainer import warm; warm.preload(); print('torch._dynamo' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "True", done.stderr[-2000:]
