"""The examples' progress hook: short logs off a terminal, one rewritten line on it."""

import io

from example_loader import load_example

_common = load_example("_common")


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
    _run(_common.ProgressHook("train", 200, stream=out), 200)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("train: step 20/200 (10%), ")
    assert lines[-1].startswith("train: step 200/200 (100%), ") and lines[-1].endswith(" done")
    assert "\r" not in out.getvalue()


def test_unknown_total_prints_only_the_final_line_for_a_short_run():
    out = io.StringIO()
    _run(_common.ProgressHook("evaluate", None, stream=out), 7)
    assert out.getvalue().startswith("evaluate: step 7, ")
    assert out.getvalue().count("\n") == 1


def test_on_a_terminal_the_line_is_rewritten_in_place():
    out = _Terminal()
    _run(_common.ProgressHook("train", 5, stream=out), 5)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith(" done\n")
    assert text.startswith("\r\033[Ktrain: step 5/5 (100%)")


def test_a_loop_that_never_ran_prints_nothing():
    out = io.StringIO()
    _run(_common.ProgressHook("train", 10, stream=out), 0)
    assert out.getvalue() == ""
