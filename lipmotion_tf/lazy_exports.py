"""Package attributes imported from their modules on first use.

Keeps ``import lipmotion_tf.<package>`` cheap (no Keras, TensorFlow or mediapipe) while
still offering ``from lipmotion_tf.<package> import Name``.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__)`` for a package whose ``exports`` map names to submodules.

    Args:
        package: the package's ``__name__``.
        exports: public name -> submodule name (relative to ``package``).
    """

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
