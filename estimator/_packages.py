"""The three import names of this distribution, and a clear error when one is someone else's.

``data`` and ``models`` are generic names: a user's own ``data/`` package (with an
``__init__.py``) beside a script, or another distribution that installs a top-level
``models/``, comes first on ``sys.path`` and hides ours. Python then imports the other package
without a word and the failure surfaces far away (``module 'data' has no attribute
'set_random_seed'``). Each of our packages carries ``__distribution__ = DISTRIBUTION``; the
estimator reaches ``data`` only through :func:`require`, which checks that mark and, when it is
missing, raises an ``ImportError`` naming the package that was found and where ours is.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

DISTRIBUTION = "torch-estimator"
__version__ = "0.1.0"

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ForeignPackageError(ImportError):
    """A package named ``data`` or ``models`` that is not this distribution's came first."""


def require(name: str) -> ModuleType:
    """Import ``name`` (``"data"`` or ``"models"``) and check that it is ours.

    >>> require("data").__distribution__
    'torch-estimator'
    """
    module = importlib.import_module(name)
    check(module)
    return module


def check(module: ModuleType) -> None:
    """Raise :class:`ForeignPackageError` when ``module`` is not this distribution's."""
    if getattr(module, "__distribution__", None) == DISTRIBUTION:
        return
    name = module.__name__
    found = getattr(module, "__file__", None) or ", ".join(getattr(module, "__path__", []))
    ours = os.path.join(_HERE, name)
    raise ForeignPackageError(
        f"the package {name!r} imported from {found or '(unknown location)'} is not "
        f"{DISTRIBUTION}'s {name!r} package (expected at {ours}). Another package of the same "
        f"name comes first on sys.path: a {name}/ folder with an __init__.py beside your script "
        f"or in the current directory, or another installed distribution with a top-level "
        f"{name!r}. Rename that folder (or remove its __init__.py), or uninstall the other "
        f"distribution and reinstall {DISTRIBUTION}.", name=name, path=found or None)
