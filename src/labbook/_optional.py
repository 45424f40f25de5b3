"""Importing optional libraries on first use, with an error that names the extra to install.

The one table of optional dependencies: every part (media, the artifact store's fsspec drivers,
datasets, integrations, the server) asks ``need()`` for what it imports lazily."""

from __future__ import annotations

import importlib
from types import ModuleType

from labbook.errors import MissingDependencyError

# library import name -> (name on PyPI, labbook extra that installs it)
_EXTRAS = {
    "PIL": ("Pillow", "images"),
    "matplotlib": ("matplotlib", "plots"),
    "plotly": ("plotly", "plots"),
    "bokeh": ("bokeh", "plots"),
    "altair": ("altair", "plots"),
    "pandas": ("pandas", "data"),
    "pyarrow": ("pyarrow", "data"),
    "sklearn": ("scikit-learn", "sklearn"),
    "imageio": ("imageio", "video"),
    "imageio_ffmpeg": ("imageio-ffmpeg", "video"),
    "torch": ("torch", "torch"),
    "keras": ("keras", "keras"),
    "lightning": ("lightning", "lightning"),
    "pytorch_lightning": ("lightning", "lightning"),
    "transformers": ("transformers", "transformers"),
    "ignite": ("pytorch-ignite", "ignite"),
    "fastai": ("fastai", "fastai"),
    "xgboost": ("xgboost", "xgboost"),
    "lightgbm": ("lightgbm", "lightgbm"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow-skinny", "mlflow"),
    "wandb": ("wandb", "wandb"),
    "langchain_core": ("langchain-core", "langchain"),
    "fastapi": ("fastapi", "server"),
    "uvicorn": ("uvicorn", "server"),
    "s3fs": ("s3fs", "s3"),
    "gcsfs": ("gcsfs", "gcs"),
    "adlfs": ("adlfs", "azure"),
}


def install_hint(module: str) -> tuple[str, str]:
    """(name on PyPI, labbook extra) for the library imported as ``module``; ``"all"`` when unknown."""
    top = module.split(".")[0]
    return _EXTRAS.get(top, (top, "all"))


def need(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. ``"PIL.Image"``) or raise ``MissingDependencyError`` for ``purpose``.

    ``need("PIL.Image", "log_image")`` returns ``PIL.Image``; without Pillow it raises an error
    saying ``pip install 'labbook[images]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        missing = (error.name or top).split(".")[0]
        library, extra = _EXTRAS.get(missing, _EXTRAS.get(top, (top, "all")))
        raise MissingDependencyError(library, extra, purpose) from None
