"""fastai: LabbookCallback on a tiny Learner over tensors made here, read back from the run."""

from __future__ import annotations

import pytest

from tests.conftest import require

try:
    import torch
    from fastai.callback.tracker import SaveModelCallback
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner, load_model
    from fastai.metrics import accuracy
except ImportError:
    torch = None

import labbook  # noqa: E402
from labbook import tracking  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def _needs_fastai():
    require(torch is not None, "fastai is not installed: pip install 'labbook[fastai]'")


def _net():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def _learner(tmp_path, cbs=None):
    torch.manual_seed(0)
    x = torch.randn(40, 4)
    y = (x[:, 0] > 0).long()
    train = torch.utils.data.TensorDataset(x[:32], y[:32])
    valid = torch.utils.data.TensorDataset(x[32:], y[32:])
    dls = DataLoaders.from_dsets(train, valid, bs=8, device="cpu")
    return Learner(dls, _net(), loss_func=torch.nn.CrossEntropyLoss(), metrics=accuracy, path=tmp_path, cbs=cbs)


def test_fastai_callback_logs_batches_epochs_and_the_best_model(tmp_path):
    from labbook.integrations.fastai import LabbookCallback

    run = tracking.init(project="fastai", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    learn = _learner(tmp_path)
    with learn.no_bar(), learn.no_logging():
        learn.fit(2, lr=0.1, cbs=[LabbookCallback(log_model=True), SaveModelCallback(monitor="valid_loss")])
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    assert record.inputs["n_epoch"] == 2 and record.inputs["model_class"] == "Sequential"
    assert record.inputs["batch_size"] == 8
    steps = list(range(1, 9))  # 32 samples / batch 8 = 4 training batches an epoch
    assert record.metric("smooth_loss").steps.tolist() == steps
    assert record.metric("raw_loss").steps.tolist() == steps
    assert record.metric("hypers_lr").steps.tolist() == steps
    assert set(record.metric("hypers_lr").values.tolist()) == {0.1}
    for name in ("train_loss", "valid_loss", "accuracy"):
        assert record.metric(name).steps.tolist() == [0, 1], name
    (summary,) = record.events("text", "model_summary")
    assert "Linear(in_features=4" in summary.value

    valid = record.metric("valid_loss").values.tolist()
    versions = sorted(labbook.list_artifacts("fastai", kind="model", producer=run.uuid, limit=None),
                      key=lambda v: v.version)
    assert len(versions) == (2 if valid[1] < valid[0] else 1)  # SaveModelCallback saves improvements
    assert versions[-1].meta["metrics"]["valid_loss"] == pytest.approx(min(valid))
    restored = _net()
    load_model(versions[-1].download(str(tmp_path / "best.pth")), restored, None, with_opt=False)
    for name, tensor in learn.model.state_dict().items():  # SaveModelCallback reloaded the best
        assert torch.equal(restored.state_dict()[name], tensor), name


def test_polyaxon_fastai_callback_logs_the_final_model_without_a_saver(tmp_path):
    # As Polyaxon's docs write it (site/integrations/tracking/tracking-fastai.mdx): a learner
    # built with cbs=[PolyaxonCallback()] after tracking.init().
    from labbook.tracking.contrib.fastai import PolyaxonCallback

    run = tracking.init(project="fastai", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    learn = _learner(tmp_path, cbs=[PolyaxonCallback(log_model=True)])
    with learn.no_bar(), learn.no_logging():
        learn.fit(2, lr=0.1)
    tracking.end()
    record = labbook.get_run(run.uuid)
    assert record.metric("valid_loss").steps.tolist() == [0, 1]
    (version,) = labbook.list_artifacts("fastai", kind="model", producer=run.uuid, limit=None)
    restored = _net()
    load_model(version.download(str(tmp_path / "final.pth")), restored, None, with_opt=False)
    for name, tensor in learn.model.state_dict().items():
        assert torch.equal(restored.state_dict()[name], tensor), name
