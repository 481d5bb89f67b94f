"""Fetching a dataset from the Hugging Face hub (or a local dataset folder) as one parquet file,
the raw form every source and benchmark adapter reads."""

from __future__ import annotations

import os
from pathlib import Path

from lightr1.errors import Lightr1Error
from lightr1.io import atomic_folder, atomic_path


def download(hub_id: str, out: str | os.PathLike, config: str | None = None, split: str = "train", revision: str | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Load one split of `hub_id` with `datasets` and write it to `out` as parquet, atomically
    (a failed or killed download leaves no partial file for the next stage to trust)."""
    import datasets  # heavy: imported only by the command that needs it

    where = hub_id + (f" (config {config!r})" if config else "") + f" split {split!r}" + (f" at revision {revision!r}" if revision else "")
    try:
        dataset = datasets.load_dataset(hub_id, name=config, split=split, revision=revision, cache_dir=None if cache_dir is None else str(cache_dir))
    except Exception as err:  # datasets raises many unrelated types (network, 404, bad config or split)
        raise Lightr1Error(f"cannot load dataset {where}: {type(err).__name__}: {err}") from err
    if not isinstance(dataset, datasets.Dataset):
        raise Lightr1Error(f"dataset {where} did not load as a single table ({type(dataset).__name__})")
    with atomic_path(out) as tmp:
        dataset.to_parquet(str(tmp))
    return Path(out)


def download_model(hub_id: str, out: str | os.PathLike, revision: str | None = None) -> Path:
    """Fetch a hub model repository into the folder `out`: downloaded beside it and renamed into
    place, so an interrupted download never looks like a model."""
    import shutil

    from huggingface_hub import snapshot_download

    where = hub_id + (f" at revision {revision!r}" if revision else "")
    try:
        with atomic_folder(out) as staging:
            snapshot_download(hub_id, revision=revision, local_dir=staging)
            shutil.rmtree(staging / ".cache", ignore_errors=True)
    except Exception as err:  # network, 404, gated repository, disk full: all end the job the same way
        raise Lightr1Error(f"cannot download model {where}: {type(err).__name__}: {err}") from err
    return Path(out)
