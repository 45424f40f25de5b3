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


def _roc(p, y):
    """ROC points and AUC computed from scores, with numpy only."""
    import numpy as np

    order = np.argsort(-p)
    y_sorted = y[order]
    tps = np.concatenate([[0], np.cumsum(y_sorted)])
    fps = np.concatenate([[0], np.cumsum(1 - y_sorted)])
    tpr, fpr = tps / max(tps[-1], 1), fps / max(fps[-1], 1)
    return fpr, tpr, float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _confusion(p, y) -> list[list[int]]:
    predicted = (p >= 0.5).astype(int)
    y = y.astype(int)
    return [[int(((y == a) & (predicted == b)).sum()) for b in (0, 1)] for a in (0, 1)]


def _weights_image(history):
    """A heat map of the weights per epoch (rows) as an RGB uint8 array."""
    import numpy as np

    w = np.array(history)
    scale = np.abs(w).max() or 1.0
    norm = w / scale
    red = np.clip(norm, 0, 1)
    blue = np.clip(-norm, 0, 1)
    rgb = np.stack([1 - blue, 1 - np.abs(norm), 1 - red], axis=-1)
    return (np.kron(rgb, np.ones((12, 24, 1))) * 255).astype(np.uint8)


def _loss_tone(losses, sample_rate=8000):
    """The validation loss curve as sound: pitch falls as the loss falls."""
    import numpy as np

    pieces = []
    for loss in losses:
        t = np.arange(int(sample_rate * 0.15)) / sample_rate
        pieces.append(0.3 * np.sin(2 * np.pi * (220 + 600 * loss) * t))
    return np.concatenate(pieces).astype(np.float32)


def _optional(echo, what: str, call: Callable[[], Any]) -> None:
    """Run an optional-library call; say so when the library is missing (never silently)."""
    from labbook.errors import MissingDependencyError

    try:
        call()
    except MissingDependencyError as error:
        echo(f"    skipped {what}: {error}")


def run_demo(home: str | Path | None = None, *, runs: int | None = None,
             echo: Callable[[str], None] = print) -> list[str]:
    """Log the demo project into ``home`` (default: the current labbook home); return run uuids.

    Three stages, linked by store:// URIs: *prepare* versions the raw table twice and the train
    and validation splits; each *train* run consumes the splits and logs metrics, text, HTML,
    histograms, curves, confusion matrices, images, audio, video, charts and its model; *evaluate*
    consumes the best model and writes a report. ``labbook lineage`` then shows the whole chain.
    """
    import numpy as np
    import pandas as pd

    import labbook
    from labbook.tracking.run import Run

    common = {"project": PROJECT, "home": home}
    uuids = []
    x, y = make_data()
    frame = pd.DataFrame(x, columns=FEATURES).assign(churned=y.astype(int))
    with Run(name="prepare-data", tags=["data"], **common) as run:
        raw_v1 = run.log_dataset(frame.iloc[:3000], "churn-raw", labels={"source": "crm-export"},
                                 description="Customer table, first export")
        raw = run.log_dataset(frame, "churn-raw", labels={"source": "crm-export"},
                              description="Customer table, with the late-October customers")
        split = int(len(frame) * 0.8)
        train_ds = run.log_dataset(frame.iloc[:split], "churn-train", labels={"split": "train"},
                                   label_column="churned", sources=[raw.uri])
        val_ds = run.log_dataset(frame.iloc[split:], "churn-val", labels={"split": "validation"},
                                 label_column="churned", sources=[raw.uri])
        run.log_outputs(rows=len(frame), churn_rate=float(frame["churned"].mean()))
        for column in FEATURES:
            run.log_histogram(f"features/{column}", frame[column].to_numpy(), bins=30, step=0)
        uuids.append(run.uuid)
        echo(f"  prepare-data: churn-raw v{raw_v1.version} and v{raw.version}, "
             f"churn-train v{train_ds.version}, churn-val v{val_ds.version}  ({run.uuid[:8]})")

    sweep = SWEEP[:runs] if runs else SWEEP
    models = []
    for index, params in enumerate(sweep, 1):
        name = f"logreg-lr{params['lr']}-bs{params['batch_size']}"
        with Run(name=name, tags=["sweep", "logreg"],
                 description="Logistic regression on the synthetic churn table", **common) as run:
            train_df = run.use_artifact(f"store://datasets/{PROJECT}/churn-train:latest").as_df()
            val_df = run.use_artifact(f"store://datasets/{PROJECT}/churn-val:latest").as_df()
            x_tr, mean, std = _standardise(train_df[FEATURES].to_numpy(dtype=float))
            x_va, _, _ = _standardise(val_df[FEATURES].to_numpy(dtype=float), mean, std)
            y_tr = train_df["churned"].to_numpy(dtype=float)
            y_va = val_df["churned"].to_numpy(dtype=float)
            run.log_inputs(**params, optimizer="sgd-cosine", features=FEATURES,
                           train_rows=len(y_tr), val_rows=len(y_va))
            history, val_losses = [], []

            def on_epoch(run, epoch, w, b):
                p = _predict(w, b, x_va)
                history.append(w.copy())
                val_losses.append(_metrics(p, y_va)["loss"])
                run.log_text("weights", ", ".join(f"{f}={v:+.3f}" for f, v in zip(FEATURES, w)),
                             step=epoch)
                run.log_histogram("val/scores", p, bins=20, step=epoch)
                if epoch % 4 == 0:
                    fpr, tpr, auc = _roc(p, y_va)
                    run.log_roc_auc_curve("val/roc", fpr, tpr, auc=auc, step=epoch)
                    run.log_metric("val/auc", auc, step=epoch)
                    run.log_confusion_matrix("val/confusion", ["stays", "churns"],
                                             ["stays", "churns"], _confusion(p, y_va), step=epoch)
                    rows = "".join(f"<tr><td>{f}</td><td>{v:+.4f}</td></tr>" for f, v in zip(FEATURES, w))
                    run.log_html("weights-table",
                                 f"<table><tr><th>feature</th><th>weight</th></tr>{rows}</table>",
                                 step=epoch)

            w, b, val = train(run, params, (x_tr, y_tr, x_va, y_va), on_epoch)
            _optional(echo, "the weights image", lambda: run.log_image(
                _weights_image(history), name="weights-by-epoch", dataformats="HWC", step=params["epochs"]))
            _optional(echo, "the loss tone", lambda: run.log_audio(
                _loss_tone(val_losses), name="val-loss-tone", sample_rate=8000, step=params["epochs"]))
            frames = np.stack([_weights_image(history[: i + 1] + [np.zeros_like(w)] * (len(history) - i - 1))
                               for i in range(len(history))])
            _optional(echo, "the training video", lambda: run.log_video(
                frames, name="weights-video", fps=4, step=params["epochs"], content_type="gif"))

            def chart():
                import plotly.graph_objects as go

                figure = go.Figure(go.Bar(x=FEATURES, y=w.tolist()))
                figure.update_layout(title=f"{name}: weights")
                run.log_plotly_chart("weights-chart", figure, step=params["epochs"])

            _optional(echo, "the plotly chart", chart)
            model_file = Path(run.get_outputs_path("model/weights.npz"))
            np.savez(model_file, w=w, b=np.array(b), mean=mean, std=std)
            model = run.log_model(str(model_file), name="churn-logreg", framework="numpy",
                                  algorithm="logistic-regression",
                                  metrics={k: round(v, 6) for k, v in val.items()},
                                  params=params, training_set=train_df, label_column="churned",
                                  rel_path="model")
            run.log_outputs(val_accuracy=val["accuracy"], val_f1=val["f1"], val_loss=val["loss"],
                            weights=dict(zip(FEATURES, np.round(w, 5).tolist())), bias=round(b, 5))
            run.set_readme(f"# {name}\n\nValidation accuracy **{val['accuracy']:.3f}**, "
                           f"F1 {val['f1']:.3f} after {params['epochs']} epochs.\n\n"
                           f"Model: `{model.uri}`")
            models.append((val["f1"], model))
            uuids.append(run.uuid)
            echo(f"  train {index}/{len(sweep)}  {name:<24} val accuracy {val['accuracy']:.3f}  "
                 f"f1 {val['f1']:.3f}  model v{model.version}  ({run.uuid[:8]})")

    best = max(models, key=lambda item: item[0])[1]
    labbook.tag_artifact(best.uri, "best", home=home)
    with Run(name="evaluate-best", tags=["evaluation"], **common) as run:
        from datetime import datetime, timezone

        started = datetime.now(timezone.utc)
        model = run.use_artifact(f"store://models/{PROJECT}/churn-logreg:best")
        val_df = run.use_artifact(f"store://datasets/{PROJECT}/churn-val:latest").as_df()
        weights = np.load(model.local_path())
        x_va, _, _ = _standardise(val_df[FEATURES].to_numpy(dtype=float), weights["mean"], weights["std"])
        y_va = val_df["churned"].to_numpy(dtype=float)
        p = _predict(weights["w"], float(weights["b"]), x_va)
        scores = _metrics(p, y_va)
        fpr, tpr, auc = _roc(p, y_va)
        run.log_metrics(step=0, **scores, auc=auc)
        run.log_roc_auc_curve("roc", fpr, tpr, auc=auc, step=0)
        run.log_confusion_matrix("confusion", ["stays", "churns"], ["stays", "churns"],
                                 _confusion(p, y_va), step=0)
        from labbook.media.traces import Span

        done = datetime.now(timezone.utc)
        run.log_trace(Span("evaluate", kind="chain", started_at=started, finished_at=done,
                           inputs={"model": model.uri, "rows": int(len(y_va))},
                           outputs={"auc": round(auc, 6)}, status="succeeded",
                           children=[Span("load-model", kind="tool", outputs={"bytes": model.size}),
                                     Span("predict", kind="tool", outputs={"positives": int((p >= 0.5).sum())}),
                                     Span("score", kind="tool", outputs=scores)]), step=0)

        def roc_chart():
            import altair as alt

            points = pd.DataFrame({"false positive rate": fpr, "true positive rate": tpr})
            chart = alt.Chart(points).mark_line().encode(x="false positive rate", y="true positive rate")
            run.log_altair_chart("roc-chart", chart.properties(title=f"ROC, AUC {auc:.3f}"), step=0)

        _optional(echo, "the altair chart", roc_chart)
        worst = val_df.assign(score=p).sort_values("score", ascending=False).head(20)
        run.log_dataframe(worst, "highest-risk-customers", content_type="csv", step=0)
        report = Path(run.get_outputs_path("report.md"))
        report.write_text(f"# Evaluation of {model.uri}\n\n" + "\n".join(
            f"- {k}: {v:.4f}" for k, v in {**scores, "auc": auc}.items()) + "\n")
        report_version = run.log_artifact(str(report), name="evaluation-report", kind="markdown")
        run.log_outputs(**{f"eval_{k}": v for k, v in scores.items()}, eval_auc=auc)
        uuids.append(run.uuid)
        echo(f"  evaluate-best: {model.key} v{model.version} (tag best) accuracy "
             f"{scores['accuracy']:.3f} auc {auc:.3f}; report {report_version.uri}  ({run.uuid[:8]})")
    return uuids
