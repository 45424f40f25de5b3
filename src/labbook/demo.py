"""The demo project: a small, real training sweep logged with every kind of event.

A synthetic customer-churn table is made, versioned as a dataset, and several logistic-regression
models are trained on it with plain numpy (different learning rates, batch sizes and
regularisation), each run logging params, per-epoch metrics, text, HTML, rich events and its
model; an evaluation run consumes the best model. Nothing is faked: every number is computed.

Run it with ``labbook demo``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

PROJECT = "churn-demo"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months", "usage_gb"]
SWEEP = [
    {"lr": 0.5, "batch_size": 64, "l2": 0.0, "epochs": 12},
    {"lr": 0.1, "batch_size": 64, "l2": 0.001, "epochs": 12},
    {"lr": 0.05, "batch_size": 128, "l2": 0.01, "epochs": 12},
    {"lr": 1.0, "batch_size": 32, "l2": 0.0, "epochs": 12},
    {"lr": 0.01, "batch_size": 256, "l2": 0.001, "epochs": 12},
]


def make_data(seed: int = 7, rows: int = 4000):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.column_stack([
        rng.gamma(2.0, 12.0, rows),          # tenure
        rng.normal(70, 25, rows).clip(10),   # monthly charges
        rng.poisson(1.5, rows),              # support calls
        rng.choice([1, 12, 24], rows),       # contract length
        rng.lognormal(3, 0.6, rows),         # usage
    ])
    logits = (-0.06 * x[:, 0] + 0.025 * x[:, 1] + 0.55 * x[:, 2] - 0.08 * x[:, 3]
              - 0.004 * x[:, 4] - 0.6)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    return x, y


def _standardise(x, mean=None, std=None):
    mean = x.mean(axis=0) if mean is None else mean
    std = x.std(axis=0) + 1e-9 if std is None else std
    return (x - mean) / std, mean, std


def _predict(w, b, x):
    import numpy as np

    return 1 / (1 + np.exp(-(x @ w + b)))


def _metrics(p, y) -> dict[str, float]:
    import numpy as np

    eps = 1e-12
    loss = float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
    predicted = p >= 0.5
    tp = float(np.sum(predicted & (y == 1)))
    fp = float(np.sum(predicted & (y == 0)))
    fn = float(np.sum(~predicted & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"loss": loss, "accuracy": float(np.mean(predicted == (y == 1))),
            "precision": precision, "recall": recall, "f1": f1}


def train(run, params: dict[str, Any], data, on_epoch: Callable | None = None):
    """Mini-batch gradient descent; logs per-epoch metrics to ``run``. Returns (w, b, val metrics)."""
    import numpy as np

    x_train, y_train, x_val, y_val = data
    rng = np.random.default_rng(0)
    w = np.zeros(x_train.shape[1])
    b = 0.0
    step = 0
    val = {}
    for epoch in range(1, params["epochs"] + 1):
        order = rng.permutation(len(y_train))
        lr = params["lr"] * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / params["epochs"]))
        for start in range(0, len(order), params["batch_size"]):
            batch = order[start:start + params["batch_size"]]
            p = _predict(w, b, x_train[batch])
            error = p - y_train[batch]
            w -= lr * (x_train[batch].T @ error / len(batch) + params["l2"] * w)
            b -= lr * float(error.mean())
            step += 1
            if step % 5 == 0:
                run.log_metric("train/batch_loss", _metrics(p, y_train[batch])["loss"], step=step)
        train_m = _metrics(_predict(w, b, x_train), y_train)
        val = _metrics(_predict(w, b, x_val), y_val)
        run.log_metrics(step=epoch, **{f"train/{k}": v for k, v in train_m.items()},
                        **{f"val/{k}": v for k, v in val.items()}, lr=lr)
        run.log_progress(epoch / params["epochs"])
        if on_epoch:
            on_epoch(run, epoch, w, b)
    return w, b, val


def run_demo(home: str | Path | None = None, *, runs: int | None = None,
             echo: Callable[[str], None] = print) -> list[str]:
    """Log the demo project into ``home`` (default: the current labbook home); return run uuids."""
    import numpy as np

    from labbook.tracking.run import Run

    x, y = make_data()
    split = int(len(y) * 0.8)
    x_train, mean, std = _standardise(x[:split])
    x_val, _, _ = _standardise(x[split:], mean, std)
    data = (x_train, y[:split], x_val, y[split:])
    uuids = []
    sweep = SWEEP[:runs] if runs else SWEEP
    for index, params in enumerate(sweep, 1):
        name = f"logreg-lr{params['lr']}-bs{params['batch_size']}"
        with Run(project=PROJECT, name=name, tags=["sweep", "logreg"], home=home,
                 description="Logistic regression on the synthetic churn table") as run:
            run.log_inputs(**params, optimizer="sgd-cosine", features=FEATURES,
                           data={"rows": int(len(y)), "train": split, "seed": 7})

            def on_epoch(run, epoch, w, b):
                weights = ", ".join(f"{f}={v:+.3f}" for f, v in zip(FEATURES, w))
                run.log_text("weights", weights, step=epoch)
                if epoch % 4 == 0:
                    rows = "".join(f"<tr><td>{f}</td><td>{v:+.4f}</td></tr>" for f, v in zip(FEATURES, w))
                    run.log_html("weights-table",
                                 f"<table><tr><th>feature</th><th>weight</th></tr>{rows}</table>",
                                 step=epoch)

            w, b, val = train(run, params, data, on_epoch)
            run.log_outputs(val_accuracy=val["accuracy"], val_f1=val["f1"], val_loss=val["loss"],
                            weights=dict(zip(FEATURES, np.round(w, 5).tolist())), bias=round(b, 5))
            run.set_readme(f"# {name}\n\nValidation accuracy **{val['accuracy']:.3f}**, "
                           f"F1 {val['f1']:.3f} after {params['epochs']} epochs.")
            uuids.append(run.uuid)
            echo(f"  run {index}/{len(sweep)}  {name:<24} val accuracy {val['accuracy']:.3f}  "
                 f"f1 {val['f1']:.3f}  ({run.uuid[:8]})")
    return uuids
