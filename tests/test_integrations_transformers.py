"""Hugging Face Transformers: LabbookCallback on a tiny BERT built from a config (nothing downloaded)."""

from __future__ import annotations

import pytest

from tests.conftest import require

try:
    import torch
    import transformers
except ImportError:
    torch = transformers = None

import labbook  # noqa: E402
from labbook import tracking  # noqa: E402

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _needs_transformers(monkeypatch):
    require(transformers is not None, "transformers is not installed: pip install 'labbook[transformers]'")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may be fetched
    monkeypatch.setenv("WANDB_DISABLED", "true")


class _Pairs(torch.utils.data.Dataset if torch else object):
    """Sequences of 6 token ids; the label says whether token 3 appears."""

    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 12, (n, 6), generator=generator)
        self.labels = (self.ids == 3).any(dim=1).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(6, dtype=torch.long),
                "labels": self.labels[i]}


def _tiny_bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=12, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=8, max_position_embeddings=8, num_labels=2)
    return transformers.BertForSequenceClassification(config)


def _args(tmp_path, epochs: int):
    return transformers.TrainingArguments(
        output_dir=str(tmp_path / "trainer"), num_train_epochs=epochs, per_device_train_batch_size=8,
        per_device_eval_batch_size=8, learning_rate=0.01, logging_steps=1, eval_strategy="epoch",
        save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=0,
    )


def test_transformers_callback_logs_args_config_every_log_and_the_model(tmp_path):
    from labbook.integrations.transformers import LabbookCallback

    run = tracking.init(project="hf", track_code=False, track_env=False, track_logs=False, collect_resources=False)
    model = _tiny_bert()
    trainer = transformers.Trainer(model=model, args=_args(tmp_path, epochs=2), train_dataset=_Pairs(32, 0),
                                   eval_dataset=_Pairs(16, 1), callbacks=[LabbookCallback(log_model=True)])
    trainer.train()
    trainer.log({"note": "tokens look fine", "custom": 2.5})  # a non-numeric log is kept as text
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    assert record.inputs["learning_rate"] == 0.01
    assert record.inputs["num_train_epochs"] == 2
    assert record.inputs["model_config"]["hidden_size"] == 8
    assert record.inputs["model_class"] == "BertForSequenceClassification"
    # 32 samples / batch 8 = 4 steps an epoch, logging_steps=1: one point per step
    assert record.metric("loss").steps.tolist() == list(range(1, 9))
    assert record.metric("learning_rate").steps.tolist() == list(range(1, 9))
    assert record.metric("eval_loss").steps.tolist() == [4, 8]
    assert record.metric("train_runtime").steps.tolist() == [8]
    assert record.metric("custom").steps.tolist() == [8]
    (note,) = record.events("text", "note")
    assert (note.step, note.value) == (8, "tokens look fine")

    (version,) = labbook.list_artifacts("hf", kind="model", producer=run.uuid, limit=None)
    assert version.labels["framework"] == "transformers" and version.is_dir
    restored = transformers.BertForSequenceClassification.from_pretrained(
        version.download(str(tmp_path / "restored")))
    for name, tensor in model.state_dict().items():
        assert torch.allclose(restored.state_dict()[name], tensor), name


def test_polyaxon_hugging_face_callback_class_logs_to_the_active_run(tmp_path):
    # As Polyaxon's docs write it (site/integrations/tracking/tracking-hugging-face.mdx):
    # tracking.init(), then the callback *class* in Trainer(callbacks=[PolyaxonCallback]).
    from labbook.tracking.contrib.hugging_face import PolyaxonCallback

    run = tracking.init(project="hf", track_code=False, track_env=False, track_logs=False, collect_resources=False)
    trainer = transformers.Trainer(model=_tiny_bert(), args=_args(tmp_path, epochs=2),
                                   train_dataset=_Pairs(16, 0), eval_dataset=_Pairs(8, 1),
                                   callbacks=[PolyaxonCallback])
    trainer.train()
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.metric("loss").steps.tolist() == [1, 2, 3, 4]
    assert record.metric("eval_loss").steps.tolist() == [2, 4]
    assert record.inputs["per_device_train_batch_size"] == 8


def test_transformers_callback_logs_nothing_off_process_zero(tmp_path, run_factory):
    from labbook.integrations.transformers import LabbookCallback

    run = run_factory(project="hf")
    callback = LabbookCallback(run=run, log_model=True)
    state = transformers.TrainerState(is_world_process_zero=False, global_step=3)
    control = transformers.TrainerControl()
    args = _args(tmp_path, epochs=1)
    callback.on_train_begin(args, state, control, model=_tiny_bert())
    callback.on_log(args, state, control, logs={"loss": 0.5, "note": "x"})
    callback.on_train_end(args, state, control, model=_tiny_bert())
    run.flush()
    record = labbook.get_run(run.uuid)
    assert (record.inputs, record.metric_names(), record.event_kinds()) == ({}, [], [])
    assert labbook.list_artifacts("hf", kind="model", producer=run.uuid) == []
