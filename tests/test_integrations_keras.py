"""Keras 3 (torch backend): LabbookCallback and Polyaxon's keras example, read back from the run."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from tests.conftest import PYTHON, python_env, require

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported: the backend is fixed then
try:
    import keras
except ImportError:
    keras = None

import numpy as np  # noqa: E402

import labbook  # noqa: E402
from labbook import tracking  # noqa: E402

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _needs_keras():
    require(keras is not None, "keras is not installed: pip install 'labbook[keras]'")
    require(keras.backend.backend() == "torch", f"Keras runs on {keras.backend.backend()}, not torch")


def _data(seed: int = 0, n: int = 40):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    return x[:32], y[:32], x[32:], y[32:]


def _model(learning_rate=0.05):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _model_versions(run_uuid: str, project: str):
    versions = labbook.list_artifacts(project, kind="model", producer=run_uuid, limit=None)
    return sorted(versions, key=lambda v: v.version)


def test_keras_callback_logs_epochs_batches_optimizer_summary_and_best_model():
    from labbook.integrations.keras import LabbookCallback

    x, y, xv, yv = _data()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=4, decay_rate=0.5)
    model = _model(learning_rate=schedule)
    run = tracking.init(project="keras", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    callback = LabbookCallback(log_every_n_batches=2)
    model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=8, verbose=0, callbacks=[callback])
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert record.metric(name).steps.tolist() == [0, 1], name
    # 32 samples / batch 8 = 4 batches an epoch; every 2nd batch, numbered across epochs
    assert record.metric("batch/loss").steps.tolist() == [2, 4, 6, 8]
    lr = record.metric("learning_rate")
    assert lr.steps.tolist() == [0, 1] and lr.values[1] < lr.values[0]  # the schedule decayed it
    assert record.inputs["num_layers"] == 2
    assert record.inputs["optimizer_name"] == "Adam"
    assert record.inputs["optimizer_lr"] == pytest.approx(0.05)
    assert record.inputs["optimizer"]["name"] == "adam"
    summary = record.events("text", "model_summary")
    assert len(summary) == 1 and "dense" in summary[0].value.lower()

    val_loss = record.metric("val_loss").values.tolist()
    best = min(val_loss)
    assert record.outputs["best_val_loss"] == pytest.approx(best)
    assert record.outputs["best_epoch"] == val_loss.index(best)
    versions = _model_versions(run.uuid, "keras")
    improvements = 1 + sum(1 for a, b in zip(val_loss, val_loss[1:]) if b < a)
    assert len(versions) == improvements
    newest = versions[-1]
    assert newest.labels.get("framework") == "keras"
    loaded = keras.saving.load_model(newest.download(os.getcwd() + "/best.keras"))
    loss, _accuracy = loaded.evaluate(xv, yv, verbose=0)
    assert loss == pytest.approx(best, rel=1e-5)


def test_keras_resumed_run_keeps_the_best_model_so_far():
    from labbook.integrations.keras import LabbookCallback

    x, y, xv, yv = _data()
    run = tracking.init(project="keras", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    model = _model()
    model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=8, verbose=0,
              callbacks=[LabbookCallback(run=run)])
    tracking.end()
    best = labbook.get_run(run.uuid).outputs["best_val_loss"]
    before = len(_model_versions(run.uuid, "keras"))

    # Resume with a model that cannot learn (learning rate 0) and starts worse than the best.
    resumed = tracking.init(run_uuid=run.uuid, track_code=False, track_env=False, track_logs=False,
                            collect_resources=False)
    keras.utils.set_random_seed(7)
    worse = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid",
                                                                    bias_initializer=keras.initializers.Constant(5.0))])
    worse.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy")
    callback = LabbookCallback(run=resumed)
    assert callback.best == pytest.approx(best)
    worse.fit(x, y, validation_data=(xv, yv), epochs=4, initial_epoch=2, batch_size=8, verbose=0,
              callbacks=[callback])
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.metric("val_loss").steps.tolist() == [0, 1, 2, 3]
    assert min(record.metric("val_loss").values[2:]) > best
    assert record.outputs["best_val_loss"] == pytest.approx(best)
    assert len(_model_versions(run.uuid, "keras")) == before  # no worse model became a version


def test_keras_callback_refuses_a_bad_argument():
    from labbook.errors import LabbookError
    from labbook.integrations.keras import LabbookCallback

    tracking.init(project="keras", track_code=False, track_env=False, track_logs=False, collect_resources=False)
    with pytest.raises(LabbookError, match="log_every_n_batches=0"):
        LabbookCallback(log_every_n_batches=0)
    with pytest.raises(LabbookError, match="mode='best'"):
        LabbookCallback(mode="best")


# Polyaxon's Keras example (site/integrations/tracking/tracking-keras.mdx, "Example"), with only
# the imports changed: `tf.keras` is Keras 3 here, MNIST is replaced by 8x8 images made on the spot,
# and the optimizer takes `learning_rate=` (Keras 3 removed the `lr=` alias). Sizes come from the
# example's own command-line flags, kept tiny.
POLYAXON_KERAS_EXAMPLE = textwrap.dedent('''
    import argparse
    import types

    import keras
    import numpy as np

    tf = types.SimpleNamespace(keras=keras)  # was: import tensorflow as tf

    # Polyaxon
    from labbook import tracking  # was: from polyaxon import tracking
    from labbook.tracking.contrib.keras import PolyaxonCallback  # was: polyaxon.tracking.contrib.keras

    OPTIMIZERS = {
        'adam': tf.keras.optimizers.Adam,
        'rmsprop': tf.keras.optimizers.RMSprop,
        'sgd': tf.keras.optimizers.SGD,
    }


    def load_data():  # was: tf.keras.datasets.mnist.load_data()
        rng = np.random.default_rng(0)
        images = rng.integers(0, 255, size=(30, 8, 8)).astype('uint8')
        labels = rng.integers(0, 10, size=30)
        return (images[:20], labels[:20]), (images[20:], labels[20:])


    def transform_data(x_train, y_train, x_test, y_test):
        x_train = x_train.reshape(x_train.shape[0], 8, 8, 1)
        x_train = x_train.astype('float32') / 255

        x_test = x_test.reshape(x_test.shape[0], 8, 8, 1)
        x_test = x_test.astype('float32') / 255

        y_train = tf.keras.utils.to_categorical(y_train, num_classes=10)
        y_test = tf.keras.utils.to_categorical(y_test, num_classes=10)

        return x_train, y_train, x_test, y_test


    def train(conv1_size, conv2_size, dropout, hidden1_size, optimizer, log_learning_rate, epochs):
        model = tf.keras.models.Sequential()
        model.add(tf.keras.layers.Conv2D(filters=conv1_size,
                                         kernel_size=(3, 3),
                                         activation='relu',
                                         input_shape=x_train.shape[1:]))
        model.add(tf.keras.layers.Conv2D(filters=conv2_size,
                                         kernel_size=(3, 3),
                                         activation='relu'))
        model.add(tf.keras.layers.MaxPooling2D(pool_size=(2, 2)))
        model.add(tf.keras.layers.Dropout(dropout))
        model.add(tf.keras.layers.Flatten())
        model.add(tf.keras.layers.Dense(hidden1_size, activation='relu'))
        model.add(tf.keras.layers.Dense(10, activation='softmax'))

        optimizer = OPTIMIZERS[optimizer](learning_rate=10 ** log_learning_rate)
        model.compile(
            optimizer=optimizer,
            loss='categorical_crossentropy',
            metrics=['accuracy'],
        )

        model.fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=100,
            callbacks=[PolyaxonCallback()],  # Polyaxon
        )
        return model.evaluate(x_test, y_test)[1]


    if __name__ == '__main__':
        parser = argparse.ArgumentParser()
        parser.add_argument('--conv1_size', type=int, default=32)
        parser.add_argument('--conv2_size', type=int, default=64)
        parser.add_argument('--dropout', type=float, default=0.8)
        parser.add_argument('--hidden1_size', type=int, default=500)
        parser.add_argument('--optimizer', type=str, default='adam')
        parser.add_argument('--log_learning_rate', type=int, default=-3)
        parser.add_argument('--epochs', type=int, default=1)
        args = parser.parse_args()

        # Polyaxon
        tracking.init()

        (x_train, y_train), (x_test, y_test) = load_data()

        # Polyaxon
        tracking.log_data_ref(content=x_train, name='x_train', is_input=True)
        tracking.log_data_ref(content=y_train, name='y_train', is_input=True)
        tracking.log_data_ref(content=x_test, name='x_test', is_input=True)
        tracking.log_data_ref(content=y_test, name='y_test', is_input=True)

        x_train, y_train, x_test, y_test = transform_data(x_train, y_train, x_test, y_test)
        model = tf.keras.models.Sequential([
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(256, activation=tf.keras.activations.relu),
            tf.keras.layers.Dropout(0.5),
            tf.keras.layers.Dense(10, activation=tf.keras.activations.softmax)
        ])

        accuracy = train(conv1_size=args.conv1_size,
                         conv2_size=args.conv2_size,
                         dropout=args.dropout,
                         hidden1_size=args.hidden1_size,
                         optimizer=args.optimizer,
                         log_learning_rate=args.log_learning_rate,
                         epochs=args.epochs)

        # Polyaxon
        tracking.log_metrics(eval_accuracy=accuracy)
''')


def test_polyaxon_keras_example_runs_with_only_the_import_changed(home, tmp_path):
    script = tmp_path / "keras_example.py"
    script.write_text(POLYAXON_KERAS_EXAMPLE)
    env = python_env(home, KERAS_BACKEND="torch")
    done = subprocess.run([PYTHON, str(script), "--conv1_size", "2", "--conv2_size", "2",
                           "--hidden1_size", "4", "--epochs", "2"],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    (row,) = labbook.search_runs()
    record = row.load()
    assert record.status == "succeeded"
    assert record.metric("loss").steps.tolist() == [0, 1]
    assert record.metric("accuracy").steps.tolist() == [0, 1]
    (eval_accuracy,) = record.metric("eval_accuracy").values.tolist()
    assert 0.0 <= eval_accuracy <= 1.0
    assert record.inputs["optimizer_name"] == "Adam"
    assert record.inputs["optimizer_lr"] == pytest.approx(1e-3)
    # no validation data, so no val_loss to monitor: the model is logged once, at the end
    (version,) = _model_versions(record.uuid, record.project)
    loaded = keras.saving.load_model(version.download(str(tmp_path / "model.keras")))
    assert len(loaded.layers) == 7
