"""The generic import names must survive a user's ``./data/`` image folder.

The dogs-vs-cats tutorial keeps images in ``./data/dogscats`` beside the script. Python treats
such a folder (no ``__init__.py``) as a namespace package, and a regular package found anywhere
on ``sys.path`` wins over it. These tests run a fresh interpreter from such a folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import data
import estimator
import models

REPO_PACKAGES = {name: Path(mod.__file__).parent for name, mod in
                 (("data", data), ("estimator", estimator), ("models", models))}


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """A user's folder: ``data/`` and ``models/`` full of files, as in the tutorial."""
    for sub in ("data/dogscats/train/dogs", "data/dogscats/train/cats", "models/checkpoints"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "data/dogscats/train/dogs/dog.1.jpg").write_bytes(b"\xff\xd8not really")
    (tmp_path / "models/checkpoints/old.pt").write_bytes(b"")
    return tmp_path


def _run(cwd: Path, args: list, env: dict = None) -> str:
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


PROBE = ("import data, estimator, models; "
         "print(data.__file__); print(estimator.__file__); print(models.__file__); "
         "print(hasattr(data, 'Dataset'))")


def _check(lines: list, expected_dirs: dict) -> None:
    for name, line in zip(("data", "estimator", "models"), lines[:3]):
        assert line != "None", f"{name} resolved to a namespace package (the user's folder)"
        assert Path(line).parent.resolve() == expected_dirs[name].resolve(), (name, line)
    assert lines[3] == "True"


def test_import_data_from_user_folder_with_dash_c(user_project: Path) -> None:
    _check(_run(user_project, ["-c", PROBE]).splitlines(), REPO_PACKAGES)


def test_import_data_from_script_beside_user_data_folder(user_project: Path) -> None:
    (user_project / "train.py").write_text(PROBE.replace("; ", "\n"))
    _check(_run(user_project, ["train.py"]).splitlines(), REPO_PACKAGES)


def test_import_data_from_regular_install_location(user_project: Path, tmp_path_factory) -> None:
    """A non-editable install puts the packages in site-packages: same rule applies."""
    site = tmp_path_factory.mktemp("site-packages")
    for name, src in REPO_PACKAGES.items():
        shutil.copytree(src, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    lines = _run(user_project, ["-S", "-c", "import sys; sys.path.append(" + repr(_site_dir())
                                + "); " + PROBE], env=env).splitlines()
    _check(lines, {name: site / name for name in REPO_PACKAGES})


def _site_dir() -> str:
    """Where torch and numpy live, so ``-S`` (no .pth files, hence no editable path) still
    finds the dependencies while the project itself comes only from the copied location."""
    import torch
    return str(Path(torch.__file__).parent.parent)


def _failing_run(cwd: Path, args: list, env: dict = None) -> str:
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_a_user_data_package_beside_the_script_is_named_not_misused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "__init__.py").write_text("LABELS = ['cat', 'dog']\n")
    script = tmp_path / "train.py"
    script.write_text(
        "import torch, estimator as est\n"
        "def model_fn(features, labels, mode):\n"
        "    loss = est.layers.dense(features, 1).pow(2).mean()\n"
        "    return est.EstimatorSpec(mode, loss=loss, train_op=est.train."
        "GradientDescentOptimizer(0.1).minimize(loss, est.train.get_global_step()))\n"
        "model = est.Estimator(model_fn, 'm', config=est.RunConfig(tf_random_seed=3))\n"
        "model.train(lambda: [(torch.ones(2, 3), None)], steps=1)\n")
    stderr = _failing_run(tmp_path, ["train.py"])
    assert "ForeignPackageError" in stderr
    assert str(tmp_path / "data" / "__init__.py") in stderr  # the package that was found ...
    assert str(REPO_PACKAGES["data"]) in stderr  # ... and where ours is
    assert "has no attribute" not in stderr


def test_a_foreign_models_package_installed_over_ours_fails_loudly(tmp_path_factory) -> None:
    site = tmp_path_factory.mktemp("site-packages")
    for name, src in REPO_PACKAGES.items():
        shutil.copytree(src, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    (site / "models" / "__init__.py").write_text("# another distribution's models package\n")
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    stderr = _failing_run(site, ["-S", "-c", "import sys; sys.path.append(" + repr(_site_dir())
                                 + "); from models.dogs_vs_cats import SeedCNN"], env=env)
    assert "ForeignPackageError" in stderr and "'models'" in stderr
    assert str(site / "models" / "__init__.py") in stderr


def test_versions_and_distribution_marks_agree() -> None:
    from importlib.metadata import version
    for module in (data, estimator, models):
        assert module.__distribution__ == "torch-estimator"
        assert module.__version__ == version("torch-estimator")
    for name in REPO_PACKAGES.values():
        assert (name / "py.typed").is_file()
