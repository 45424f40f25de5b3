"""PyTorch Ignite: LabbookLogger handlers and LabbookSaver checkpoints, read back from the run."""

from __future__ import annotations

import pytest

from tests.conftest import require

try:
    import ignite
    import torch
    from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
    from ignite.handlers import Checkpoint, global_step_from_engine
    from ignite.metrics import Accuracy, Loss
except ImportError:
    ignite = torch = None

import labbook  # noqa: E402
from labbook import tracking  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def _needs_ignite():
    require(ignite is not None, "pytorch-ignite is not installed: pip install 'labbook[ignite]'")


def _setup():
    torch.manual_seed(0)
    x = torch.randn(40, 4)
    y = (x[:, 0] > 0).long()
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:32], y[:32]), batch_size=8)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[32:], y[32:]), batch_size=8)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.CrossEntropyLoss()
    trainer = create_supervised_trainer(model, optimizer, loss)
    evaluator = create_supervised_evaluator(model, metrics={"accuracy": Accuracy(), "nll": Loss(loss)})
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: evaluator.run(val))
    return model, optimizer, trainer, evaluator, train


def test_ignite_logger_and_saver_log_iterations_epochs_lr_and_checkpoints(tmp_path):
    from labbook.integrations.ignite import LabbookLogger, LabbookSaver

    model, optimizer, trainer, evaluator, train = _setup()
    run = tracking.init(project="ignite", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    logger = LabbookLogger()
    assert logger.run is run
    logger.log_inputs(seed=0, batch_size=8)  # any other attribute is the run's
    logger.attach_output_handler(trainer, event_name=Events.ITERATION_COMPLETED, tag="training",
                                 output_transform=lambda loss: {"loss": loss})
    logger.attach_output_handler(evaluator, event_name=Events.EPOCH_COMPLETED, tag="validation",
                                 metric_names=["nll", "accuracy"],
                                 global_step_transform=global_step_from_engine(trainer))
    logger.attach_opt_params_handler(trainer, event_name=Events.ITERATION_STARTED, optimizer=optimizer)
    checkpoint = Checkpoint({"model": model}, LabbookSaver(), n_saved=1,
                            global_step_transform=global_step_from_engine(trainer))
    evaluator.add_event_handler(Events.COMPLETED, checkpoint)
    trainer.run(train, max_epochs=2)
    logger.close()
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    assert record.inputs == {"seed": 0, "batch_size": 8}
    assert record.metric("training/loss").steps.tolist() == list(range(1, 9))  # 4 iterations an epoch
    assert record.metric("validation/nll").steps.tolist() == [1, 2]  # the trainer's epochs
    assert record.metric("validation/accuracy").steps.tolist() == [1, 2]
    lr = record.metric("lr/group_0")
    assert lr.steps.tolist() == list(range(1, 9)) and set(lr.values.tolist()) == {0.1}

    versions = sorted(labbook.list_artifacts("ignite", kind="model", producer=run.uuid, limit=None),
                      key=lambda v: v.version)
    assert [v.key for v in versions] == ["model", "model"]  # one checkpoint an epoch
    # n_saved=1: the older file left outputs/checkpoints, its version stays loadable
    assert sorted(p.name for p in (record.path / "outputs" / "checkpoints").iterdir()) == ["model_2.pt"]
    first = torch.load(versions[0].download(str(tmp_path / "first.pt")))
    assert set(first) == set(model.state_dict())
    restored = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    restored.load_state_dict(torch.load(versions[-1].download(str(tmp_path / "last.pt"))))
    for name, tensor in model.state_dict().items():
        assert torch.equal(restored.state_dict()[name], tensor)


def test_polyaxon_ignite_logger_takes_polyaxons_arguments():
    # As Polyaxon's docs write it (site/integrations/tracking/tracking-ignite.mdx).
    from labbook.tracking.contrib.ignite import PolyaxonLogger

    model, optimizer, trainer, evaluator, train = _setup()
    plx_logger = PolyaxonLogger(None, "ignite-plx", track_code=False, track_env=False, track_logs=False,
                                collect_resources=False)
    plx_logger.log_inputs(**{"seed": 0, "model": model.__class__.__name__, "ignite version": ignite.__version__})
    plx_logger.attach_output_handler(trainer, event_name=Events.ITERATION_COMPLETED, tag="training",
                                     output_transform=lambda loss: {"loss": loss})
    trainer.run(train, max_epochs=2)
    run = plx_logger.run
    assert run.project == "ignite-plx"
    tracking.end()
    record = labbook.get_run(run.uuid)
    assert record.metric("training/loss").steps.tolist() == list(range(1, 9))
    assert record.inputs["model"] == "Sequential"
