"""Keras reference numbers for the tutorial study (DESIGN.md section 2) on real Fashion-MNIST.

Standalone script, not part of reglab and not imported by anything. It needs TensorFlow
(Keras 3), which reglab does not depend on; run it in a separate virtual environment:

    python3 -m venv /tmp/kerasvenv
    PIP_CONSTRAINT= /tmp/kerasvenv/bin/pip install tensorflow
    CUDA_VISIBLE_DEVICES= /tmp/kerasvenv/bin/python benchmarks/keras_reference.py \
        --data ../shared/data/fashion-mnist --seeds 0 1 2 --out docs/keras-reference.json

Model definitions, compile and fit calls are copied from the tutorial notebook
(tutorial/000_3b666bd2fade48aa.txt); only the data source (Fashion-MNIST IDX files instead of
keras.datasets.mnist), verbose=0 and the per-model seeding are changed. The notebook trains only
adam, adam_lr (10 epochs) and combined (15 epochs); here all ten are trained, 15 epochs for the
regularization models and 10 for the optimizer models, as DESIGN.md section 2 says.
"""

import argparse
import gzip
import json
import os
import platform
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Dropout
from tensorflow.keras.regularizers import l1, l2
from tensorflow.keras.callbacks import LearningRateScheduler
from tensorflow.keras.optimizers import Adam, RMSprop, SGD


# --- data ---------------------------------------------------------------------------------

def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(folder):
    x_train = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))
    y_train = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))
    x_test = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"))
    y_test = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
    return (x_train, y_train), (x_test, y_test)


# --- models: copied from the tutorial -----------------------------------------------------

def create_basic_dnn():
    model = Sequential([
        Dense(512, activation='relu', input_shape=(784,)),
        Dense(256, activation='relu'),
        Dense(128, activation='relu'),
        Dense(64, activation='relu'),
        Dense(10, activation='softmax')
    ])
    return model


# L1正則化を使用したモデル
def create_l1_model():
    model = Sequential([
        Dense(512, activation='relu', input_shape=(784,), kernel_regularizer=l1(0.001)),
        Dense(256, activation='relu', kernel_regularizer=l1(0.001)),
        Dense(128, activation='relu', kernel_regularizer=l1(0.001)),
        Dense(64, activation='relu', kernel_regularizer=l1(0.001)),
        Dense(10, activation='softmax')
    ])
    return model


# L2正則化を使用したモデル
def create_l2_model():
    model = Sequential([
        Dense(512, activation='relu', input_shape=(784,), kernel_regularizer=l2(0.001)),
        Dense(256, activation='relu', kernel_regularizer=l2(0.001)),
        Dense(128, activation='relu', kernel_regularizer=l2(0.001)),
        Dense(64, activation='relu', kernel_regularizer=l2(0.001)),
        Dense(10, activation='softmax')
    ])
    return model


# ドロップアウトを使用したモデル
def create_dropout_model():
    model = Sequential([
        Dense(512, activation='relu', input_shape=(784,)),
        Dropout(0.3),  # 30%のドロップアウト率
        Dense(256, activation='relu'),
        Dropout(0.3),
        Dense(128, activation='relu'),
        Dropout(0.3),
        Dense(64, activation='relu'),
        Dropout(0.3),
        Dense(10, activation='softmax')
    ])
    return model


# L2正則化とドロップアウトの両方を使用したモデル
def create_combined_reg_model():
    model = Sequential([
        Dense(512, activation='relu', input_shape=(784,), kernel_regularizer=l2(0.001)),
        Dropout(0.3),
        Dense(256, activation='relu', kernel_regularizer=l2(0.001)),
        Dropout(0.3),
        Dense(128, activation='relu', kernel_regularizer=l2(0.001)),
        Dropout(0.2),
        Dense(64, activation='relu', kernel_regularizer=l2(0.001)),
        Dropout(0.2),
        Dense(10, activation='softmax')
    ])
    return model


# 最適化手法の比較用にシンプルなモデルを作成する関数
def create_simple_model():
    model = Sequential([
        Dense(256, activation='relu', input_shape=(784,)),
        Dense(128, activation='relu'),
        Dense(10, activation='softmax')
    ])
    return model


# 学習率スケジューラを定義
def lr_schedule(epoch):
    initial_lr = 0.001
    if epoch < 5:
        return initial_lr
    elif epoch < 10:
        return initial_lr * 0.5
    else:
        return initial_lr * 0.1


# name -> (builder, optimizer factory, epochs, uses lr_callback).
# The tutorial compiles the regularization models with optimizer='adam' (the string) and the
# optimizer models with explicit optimizer objects; both are kept as written.
MODELS = {
    "basic": (create_basic_dnn, lambda: 'adam', 15, False),
    "l1": (create_l1_model, lambda: 'adam', 15, False),
    "l2": (create_l2_model, lambda: 'adam', 15, False),
    "dropout": (create_dropout_model, lambda: 'adam', 15, False),
    "combined": (create_combined_reg_model, lambda: 'adam', 15, False),
    "sgd": (create_simple_model, lambda: SGD(learning_rate=0.01), 10, False),
    "momentum": (create_simple_model, lambda: SGD(learning_rate=0.01, momentum=0.9), 10, False),
    "rmsprop": (create_simple_model, lambda: RMSprop(learning_rate=0.001), 10, False),
    "adam": (create_simple_model, lambda: Adam(learning_rate=0.001), 10, False),
    "adam_lr": (create_simple_model, lambda: Adam(learning_rate=0.001), 10, True),
}


def penalty_check(model, x, y):
    """Loss of a regularised model with and without its weight penalty, against what
    model.evaluate reports (the same quantity history['val_loss'] is computed with)."""
    cce = keras.losses.CategoricalCrossentropy()
    data_loss = float(cce(y, model.predict(x, batch_size=1024, verbose=0)))
    penalty = float(sum(float(l) for l in model.losses))
    evaluated = float(model.evaluate(x, y, batch_size=1024, verbose=0)[0])
    # Training-mode loss on the same data: the forward pass fit() uses (dropout would be active).
    train_mode = float(cce(y, model(x, training=True))) + penalty
    return {"data_loss": data_loss, "penalty": penalty, "data_plus_penalty": data_loss + penalty,
            "evaluate_loss": evaluated, "train_mode_data_plus_penalty": train_mode}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/fashion-mnist")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--out", default="docs/keras-reference.json")
    p.add_argument("--history-seed", type=int, default=0,
                   help="seed whose full per-epoch history is stored")
    args = p.parse_args()

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(args.data)
    # As in the tutorial: /255, flatten, one-hot.
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = x_train.reshape(-1, 28*28)
    x_test = x_test.reshape(-1, 28*28)
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)

    subset_size = 10000
    x_train_subset = x_train[:subset_size]
    y_train_subset = y_train[:subset_size]
    x_val = x_train[subset_size:subset_size+2000]
    y_val = y_train[subset_size:subset_size+2000]

    lr_callback = LearningRateScheduler(lr_schedule)

    results = {
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "devices": [d.name for d in tf.config.list_physical_devices()]},
        "command": " ".join([sys.executable] + sys.argv),
        "runs": [],
        "penalty_checks": {},
    }
    t_all = time.perf_counter()
    for seed in args.seeds:
        for name in args.models:
            builder, make_opt, epochs, use_sched = MODELS[name]
            keras.utils.set_random_seed(seed)
            model = builder()
            model.compile(optimizer=make_opt(), loss='categorical_crossentropy',
                          metrics=['accuracy'])
            t0 = time.perf_counter()
            history = model.fit(
                x_train_subset, y_train_subset,
                epochs=epochs,
                batch_size=128,
                validation_data=(x_val, y_val),
                callbacks=[lr_callback] if use_sched else None,
                verbose=0
            )
            fit_s = time.perf_counter() - t0
            test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
            wall_s = time.perf_counter() - t0
            h = {k: [float(v) for v in vs] for k, vs in history.history.items()}
            run = {
                "model": name, "seed": seed, "epochs": epochs,
                "test_accuracy": float(test_acc), "test_loss": float(test_loss),
                "final": {k: vs[-1] for k, vs in h.items()},
                "fit_seconds": fit_s, "wall_seconds": wall_s,
            }
            if seed == args.history_seed:
                run["history"] = h
            if name in ("l1", "l2", "combined") and seed == args.history_seed:
                results["penalty_checks"][name] = {
                    "train_subset": penalty_check(model, x_train_subset, y_train_subset),
                    "val": penalty_check(model, x_val, y_val),
                    "history_final_loss": h["loss"][-1],
                    "history_final_val_loss": h["val_loss"][-1],
                }
            results["runs"].append(run)
            print(f"seed {seed} {name:9s} test_acc {test_acc:.4f} test_loss {test_loss:.4f} "
                  f"val_acc {h['val_accuracy'][-1]:.4f} loss {h['loss'][-1]:.4f} "
                  f"val_loss {h['val_loss'][-1]:.4f} {wall_s:6.1f}s", flush=True)
            keras.backend.clear_session()
    results["total_seconds"] = time.perf_counter() - t_all

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"total {results['total_seconds']:.1f}s -> {args.out}")


if __name__ == "__main__":
    main()
