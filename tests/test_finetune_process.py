"""Training in detached processes through the CLI: survive the parent, re-attach, resume, two processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, cli_env, run_cli
from engine.errors import NotFoundError
from engine.finetune import runs
from engine.finetune.process import process_alive, reattach, recover_dead_runs
from finetune_fixtures import FAST, losses, tiny_llava, tiny_models, training_set  # noqa: F401

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 240


def _start_args(training_set, name: str, tmp_path, **changes) -> list[str]:
    values = dict(FAST, **changes)
    args = ["finetune", "start", "--name", name, "--base-model", "tiny-llava", "--dataset", str(training_set),
            "--output-dir", str(tmp_path / name)]
    for field, value in values.items():
        args += ["--" + field.replace("_", "-"), str(value)]
    return args


def _wait_for(db, name: str, statuses: tuple[str, ...], timeout: float = RUN_TIMEOUT_S):
    """Return run ``name`` once its status is one of ``statuses`` (it may not exist yet)."""
    deadline = time.monotonic() + timeout
    run = None
    while time.monotonic() < deadline:
        try:
            run = runs.get_run(db, name)
        except NotFoundError:
            time.sleep(0.5)
            continue
        if run.status in statuses:
            return run
        time.sleep(0.5)
    log = run.log_path.read_text() if run is not None and run.log_path.exists() else ""
    raise AssertionError(f"run {name} is {run.status if run else 'missing'}; log tail:\n{log[-3000:]}")


def _wait_for_step(db, name: str, step: int, timeout: float = RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = runs.get_run(db, name)
        if run.step >= step or run.status not in runs.ACTIVE:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {name} did not reach step {step}")


@pytest.mark.skipif(os.name != "posix", reason="uses process groups and /bin/sh")
def test_detached_run_survives_parent_and_reattaches(db, db_url, tiny_llava, training_set, tmp_path):
    # A shell in its own process group starts the run. The test then kills the whole group,
    # as closing a terminal or the GUI would, and the training process must go on.
    args = _start_args(training_set, "detached", tmp_path, epochs=60.0, save_steps=5)
    command = " ".join([sys.executable, "-m", "engine.cli.main", *map(_quote, args)]) + "; sleep 600"
    shell = subprocess.Popen(["/bin/sh", "-c", command], cwd=REPO_ROOT, env=cli_env(db_url),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        run = _wait_for(db, "detached", (runs.RUNNING,))
        assert run.pid is not None and run.pid != shell.pid
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait(timeout=30)
        run = _wait_for_step(db, "detached", 6)
        assert process_alive(run.pid, run.id)
        assert os.getsid(run.pid) != shell.pid  # the shell led its own session

        # A GUI that starts now re-attaches to the live run.
        assert [r.name for r in reattach(db)] == ["detached"]

        # Killing the training process leaves a run that re-attaching marks as failed.
        os.kill(run.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process_alive(run.pid, run.id) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert recover_dead_runs(db) == [run.id]
        failed = runs.get_run(db, run.id)
        assert failed.status == runs.FAILED
        assert "ended without finishing the run" in failed.message
        assert reattach(db) == []
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        current = runs.get_run(db, "detached")
        if process_alive(current.pid, current.id):
            os.kill(current.pid, signal.SIGKILL)

    # Resume continues from the latest checkpoint through the CLI.
    from engine.finetune.checkpoints import latest_checkpoint

    resume_from = latest_checkpoint(failed.output_dir).step
    assert resume_from >= 5
    resumed = run_cli(db_url, "finetune", "resume", "detached")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed run detached" in resumed.stdout
    _wait_for_step(db, "detached", resume_from + 2)
    cancelled = run_cli(db_url, "finetune", "cancel", "detached")
    assert cancelled.returncode == 0, cancelled.stderr
    final = _wait_for(db, "detached", runs.FINAL)
    assert final.status == runs.CANCELLED
    assert f"at step {resume_from} of" in final.log_path.read_text()
    from engine.finetune.monitoring import read_metrics

    # Rows the killed attempt wrote after its last checkpoint were replaced, not duplicated.
    assert [point.step for point in read_metrics(db, final.id)] == list(range(1, final.step + 1))


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def test_cli_start_list_show_register_merge(db, db_url, tiny_llava, training_set, tmp_path):
    started = run_cli(db_url, *_start_args(training_set, "cli-run", tmp_path, epochs=2.0, save_steps=3))
    assert started.returncode == 0, started.stderr
    assert "started run cli-run" in started.stdout
    run = _wait_for(db, "cli-run", runs.FINAL)
    assert run.status == runs.SUCCEEDED, run.message

    listed = run_cli(db_url, "finetune", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(entry["name"], entry["status"]) for entry in json.loads(listed.stdout)] == [("cli-run", "succeeded")]
    shown = run_cli(db_url, "finetune", "show", "cli-run")
    assert shown.returncode == 0, shown.stderr
    assert "run cli-run (id" in shown.stdout
    assert "step 3 " in shown.stdout
    assert "val_loss" in shown.stdout

    registered = run_cli(db_url, "finetune", "register", "cli-run", "--checkpoint", "3", "--name", "cli-step3")
    assert registered.returncode == 0, registered.stderr
    from engine.inference.registry import get_model

    adapters = get_model(db, "tiny-llava").adapters
    assert [(a.name, a.path.endswith("step-000003/adapter")) for a in adapters] == [("cli-step3", True)]

    merged = run_cli(db_url, "finetune", "merge", "cli-run", "--out", str(tmp_path / "merged"),
                     "--register", "cli-merged")
    assert merged.returncode == 0, merged.stderr
    assert (tmp_path / "merged" / "config.json").is_file()
    assert get_model(db, "cli-merged").backend == "transformers"

    missing = run_cli(db_url, "finetune", "merge", "cli-run", "--checkpoint", "99", "--out", str(tmp_path / "x"))
    assert missing.returncode == 1
    assert "error: training run 'cli-run' has no checkpoint at step 99" in missing.stderr


def test_cli_merge_gguf(db, db_url, tiny_llava, training_set, tmp_path):
    from engine.errors import WorkbenchError
    from engine.inference.gguf_convert import converter_dir

    try:
        converter_dir()
    except WorkbenchError as error:
        pytest.skip(str(error))
    run = runs.create_run(db, _config(training_set, "gguf-run", tmp_path))
    from engine.finetune.training import run_training

    run_training(db, run.id)
    merged = run_cli(db_url, "finetune", "merge", "gguf-run", "--out", str(tmp_path / "merged"), "--gguf",
                     "--gguf-pre-tokenizer", "gpt-2")
    assert merged.returncode == 0, merged.stderr
    assert (tmp_path / "merged" / "model-f16.gguf").stat().st_size > 0


def _config(training_set, name, tmp_path, **changes):
    from finetune_fixtures import fast_config

    return fast_config(training_set, name, tmp_path, **changes)


def test_cli_dry_run_prints_estimate_and_command(db_url, db, tiny_llava, training_set, tmp_path):
    result = run_cli(db_url, *_start_args(training_set, "dry", tmp_path), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "data: 10 training, 2 validation samples" in result.stdout
    assert "estimated memory per process" in result.stdout
    assert "an estimate, not a measurement" in result.stdout
    assert "command: neuroonco finetune start --dataset" in result.stdout
    assert runs.list_runs(db) == []
    invalid = run_cli(db_url, "finetune", "start", "--name", "dry", "--base-model", "nope", "--dry-run")
    assert invalid.returncode == 1
    assert "error: base_model: model 'nope' is not registered" in invalid.stdout
    assert "error: datasets: no training data chosen" in invalid.stdout
    refused = run_cli(db_url, "finetune", "start", "--name", "x y", "--base-model", "tiny-llava",
                      "--dataset", str(training_set))
    assert refused.returncode == 1
    assert "error: invalid fine-tuning settings: run_name: run name 'x y'" in refused.stderr


def test_two_process_run_matches_one_process(db, db_url, tiny_llava, training_set, tmp_path):
    # 8 training samples (4 of 12 held out): 2 processes x batch 2 see the same samples per
    # step as 1 process x batch 2 x accumulation 2, so the losses agree up to float
    # summation order.
    common = dict(epochs=2.0, save_steps=2, val_split=0.34)
    two = run_cli(db_url, *_start_args(training_set, "two", tmp_path, gpus=2, gradient_accumulation=1, **common))
    assert two.returncode == 0, two.stderr
    one = runs.create_run(db, _config(training_set, "one", tmp_path, gradient_accumulation=2, **common))
    from engine.finetune.training import run_training

    run_training(db, one.id)
    done = _wait_for(db, "two", runs.FINAL)
    log = done.log_path.read_text()
    assert done.status == runs.SUCCEEDED, log[-3000:]
    assert "accelerate.commands.launch" in log
    assert "(2 process(es))" in log

    single, double = losses(db, one.id), losses(db, done.id)
    assert sorted(single) == sorted(double)
    for step in single:
        assert double[step] == pytest.approx(single[step], abs=1e-5), step
    from engine.finetune.monitoring import read_checkpoints

    assert [c.step for c in read_checkpoints(db, done.id)] == [2, 4]
