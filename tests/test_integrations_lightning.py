"""PyTorch Lightning: LabbookLogger and Polyaxon's Lightning example, read back from the run."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from tests.conftest import PYTHON, python_env, require

try:
    import lightning as L
    import torch
except ImportError:
    L = torch = None

import labbook  # noqa: E402
from labbook import tracking  # noqa: E402

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _needs_lightning():
    require(L is not None, "lightning is not installed: pip install 'labbook[lightning]'")


def _module_class():
    class Tiny(L.LightningModule):
        def __init__(self, hidden: int = 3, optim: dict | None = None):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=False)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self(x), y), on_epoch=True)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.optim["lr"])

    return Tiny


def _loaders():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(40, 4, generator=generator)
    y = (x[:, 0] > 0).long()
    train = torch.utils.data.TensorDataset(x[:32], y[:32])
    val = torch.utils.data.TensorDataset(x[32:], y[32:])
    return (torch.utils.data.DataLoader(train, batch_size=8),
            torch.utils.data.DataLoader(val, batch_size=8))


def _trainer(logger, **kwargs):
    return L.Trainer(max_epochs=2, logger=logger, accelerator="cpu", devices=1, log_every_n_steps=1,
                     enable_progress_bar=False, enable_model_summary=False, **kwargs)


def test_lightning_logger_logs_hparams_metrics_and_checkpoints():
    from labbook.integrations.lightning import LabbookLogger

    torch.manual_seed(0)
    train, val = _loaders()
    model = _module_class()(hidden=3, optim={"lr": 0.1, "name": "sgd"})
    logger = LabbookLogger(project="lightning", track_code=False, track_env=False, track_logs=False,
                           collect_resources=False)
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1, save_last=True)
    trainer = _trainer(logger, callbacks=[checkpoint])
    trainer.fit(model, train, val)
    run = logger.experiment
    assert checkpoint.dirpath.startswith(str(run.path))  # save_dir is inside the run folder
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    assert record.inputs["hidden"] == 3
    assert record.inputs["optim/lr"] == 0.1 and record.inputs["optim/name"] == "sgd"
    # 4 batches an epoch: one train_loss point per optimizer step, val_loss at each epoch's last step
    assert record.metric("train_loss").steps.tolist() == list(range(8))
    assert record.metric("val_loss").steps.tolist() == [3, 7]
    assert record.metric("epoch").steps.tolist()[-1] == 7

    versions = sorted(labbook.list_artifacts("lightning", kind="model", producer=run.uuid, limit=None),
                      key=lambda v: v.version)
    assert len(versions) >= 2  # each epoch saved a new best or last checkpoint
    assert all(v.labels.get("framework") == "lightning" for v in versions)
    best = [v for v in versions if v.labels.get("checkpoint") == "best"]
    assert best[-1].meta["metrics"]["val_loss"] == pytest.approx(min(record.metric("val_loss").values))
    # last.ckpt too; a last.ckpt with the same bytes as that step's best is no new version
    assert {v.labels["checkpoint"] for v in versions} == {"best", "last"}
    # the newest version's bytes are a checkpoint Lightning loads back
    path = versions[-1].download(str(record.path.parent / "restored.ckpt"))
    restored = _module_class().load_from_checkpoint(path)
    assert restored.hparams.hidden == 3
    for name, tensor in model.state_dict().items():
        assert torch.allclose(restored.state_dict()[name], tensor)


def test_lightning_prefix_and_a_given_run(run_factory):
    from labbook.integrations.lightning import LabbookLogger

    run = run_factory(project="lightning")
    logger = LabbookLogger(run=run, prefix="fold0", log_model=False)
    logger.log_metrics({"acc": torch.tensor(0.5)}, step=3)
    logger.log_hyperparams({"a": {"b": [1, 2]}, "fn": torch.relu})
    run.flush()
    record = labbook.get_run(run.uuid)
    assert record.metric("fold0-acc").steps.tolist() == [3]
    assert record.inputs["a/b"] == [1, 2] and record.inputs["fn"] == "relu"


def test_lightning_logs_on_rank_zero_only_unless_asked(run_factory, monkeypatch):
    from labbook.integrations.lightning import LabbookLogger, rank_zero_only

    run = run_factory(project="lightning")
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # as Lightning sets it in a second process
    LabbookLogger(run=run).log_metrics({"rank0_only": 1.0}, step=0)
    LabbookLogger(run=run, all_ranks=True).log_metrics({"every_rank": 1.0}, step=0)
    run.flush()
    assert labbook.get_run(run.uuid).metric_names() == ["every_rank"]


# Polyaxon's PyTorch-Lightning example (site/integrations/tracking/tracking-pytorch-lightning.mdx,
# "Example"), with only the imports changed and MNIST replaced by tiny 8x8 images made on the spot.
# Lightning 2 removed what the 2020 example relied on, so the same logic is written in its API:
# `{'log': ...}` dicts become self.log(), `validation_epoch_end` becomes on_validation_epoch_end,
# and `gpus=0, progress_bar_refresh_rate=20` becomes `accelerator="cpu", enable_progress_bar=False`.
POLYAXON_LIGHTNING_EXAMPLE = textwrap.dedent('''
    import os

    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset
    import lightning.pytorch as pl  # was: import pytorch_lightning as pl

    from labbook.tracking.contrib.pytorch_lightning import PolyaxonCallback  # was: polyaxon.tracking.contrib...


    def MNIST(root, train=True, download=True, transform=None):  # was: torchvision.datasets.MNIST
        generator = torch.Generator().manual_seed(0 if train else 1)
        return TensorDataset(torch.rand(64, 1, 8, 8, generator=generator),
                             torch.randint(0, 10, (64,), generator=generator))


    class MNISTModel(pl.LightningModule):

        def __init__(self):
            super(MNISTModel, self).__init__()
            self.l1 = torch.nn.Linear(8 * 8, 10)
            self.val_losses = []

        def forward(self, x):
            return torch.relu(self.l1(x.view(x.size(0), -1)))

        def training_step(self, batch, batch_nb):
            x, y = batch
            y_hat = self(x)
            loss = F.cross_entropy(y_hat, y)
            self.log('train_loss', loss)
            return {'loss': loss}

        def validation_step(self, batch, batch_nb):
            x, y = batch
            y_hat = self(x)
            self.val_losses.append(F.cross_entropy(y_hat, y))
            return {'val_loss': self.val_losses[-1]}

        def on_validation_epoch_end(self):
            avg_loss = torch.stack(self.val_losses).mean()
            self.val_losses.clear()
            self.log('val_loss', avg_loss)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.02)

        def train_dataloader(self):
            return DataLoader(MNIST(os.getcwd(), train=True, download=True), batch_size=32)

        def val_dataloader(self):
            return DataLoader(MNIST(os.getcwd(), train=True, download=True), batch_size=32)


    train_loader = DataLoader(MNIST(os.getcwd(), train=True, download=True), batch_size=32)

    mnist_model = MNISTModel()
    trainer = pl.Trainer(
        accelerator="cpu",
        enable_progress_bar=False,
        max_epochs=2,
        logger=PolyaxonCallback(),
    )
    trainer.fit(mnist_model, train_loader)
''')


def test_polyaxon_lightning_example_runs_with_only_the_import_changed(home, tmp_path):
    script = tmp_path / "lightning_example.py"
    script.write_text(POLYAXON_LIGHTNING_EXAMPLE)
    done = subprocess.run([PYTHON, str(script)], env=python_env(home), capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    (row,) = labbook.search_runs()
    record = row.load()
    assert record.status == "succeeded"
    # 64 samples / batch 32 = 2 steps an epoch; Lightning logs train_loss every 50 steps by default,
    # so the epoch-level val_loss at each epoch's last step is what a 2-epoch run shows
    assert record.metric("val_loss").steps.tolist() == [1, 3]
    assert record.metric("epoch").values.tolist()[-1] == 1
    versions = labbook.list_artifacts(record.project, kind="model", producer=record.uuid, limit=None)
    assert versions  # the default ModelCheckpoint's file, logged as a model version
    state = torch.load(versions[0].download(str(tmp_path / "m.ckpt")), weights_only=False)
    assert state["state_dict"]["l1.weight"].shape == (10, 64)
