"""est.ProgressHook: short logs off a terminal, one rewritten line on it."""

import io
import logging

import pytest

import estimator as est


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(hook, steps):
    hook.begin()
    for _ in range(steps):
        hook.after_run(None, None)
    hook.end(None)


def test_off_a_terminal_prints_a_line_per_tenth_and_a_final_line():
    out = io.StringIO()
    _run(est.ProgressHook("train", 200, stream=out, use_tqdm=False), 200)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("train: step 20/200 (10%), ")
    assert lines[-1].startswith("train: step 200/200 (100%), ") and lines[-1].endswith(" done")
    assert "\r" not in out.getvalue()


def test_unknown_total_prints_only_the_final_line_for_a_short_run():
    out = io.StringIO()
    _run(est.ProgressHook("evaluate", None, stream=out, use_tqdm=False), 7)
    assert out.getvalue().startswith("evaluate: step 7, ")
    assert out.getvalue().count("\n") == 1


def test_on_a_terminal_the_line_is_rewritten_in_place():
    out = _Terminal()
    _run(est.ProgressHook("train", 5, stream=out, use_tqdm=False), 5)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith(" done\n")
    assert text.startswith("\r\033[Ktrain: step 5/5 (100%)")


def test_a_loop_that_never_ran_prints_nothing():
    out = io.StringIO()
    _run(est.ProgressHook("train", 10, stream=out, use_tqdm=False), 0)
    assert out.getvalue() == ""


def test_default_stream_is_stderr_and_its_terminal_state_is_used(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    hook = est.ProgressHook("train", 3, use_tqdm=False)
    assert hook.stream is terminal and hook.interactive
    _run(hook, 3)
    assert terminal.getvalue().startswith("\r\033[Ktrain: step 3/3")


def test_log_records_do_not_share_the_live_line():
    out = _Terminal()
    hook = est.ProgressHook("train", 100, stream=out, use_tqdm=False)
    hook.begin()
    hook.last_print -= 1  # due for a redraw
    hook.after_run(None, None)
    logger = logging.getLogger("test_progress_live_line")
    handler = est.ProgressAwareHandler(out)
    logger.addHandler(handler)
    try:
        logger.warning("hello")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    live = text[text.rindex("\n") + 1:]
    assert live.startswith("train: step 1/100 (1%), ")
    assert text.endswith("\r\033[Khello\n" + live)  # cleared, logged, redrawn


def test_tqdm_bar_on_a_terminal_when_installed():
    pytest.importorskip("tqdm")
    out = _Terminal()
    _run(est.ProgressHook("train", 4, stream=out), 4)
    assert "4/4" in out.getvalue() and "train" in out.getvalue()


def test_use_tqdm_true_without_tqdm_names_the_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    with pytest.raises(ImportError, match=r"torch-estimator\[progress\]"):
        est.ProgressHook("train", 4, stream=io.StringIO(), use_tqdm=True)
