"""Keras reference numbers for the built-in `cnn` study on real Fashion-MNIST.

Standalone script, not part of reglab and not imported by anything; the CNN counterpart of
keras_reference.py (whose data loading it reuses). It needs TensorFlow (Keras 3), which reglab
does not depend on; run it in a separate virtual environment, from the repository root:

    python3 -m venv /work/tfvenv && PIP_CONSTRAINT= /work/tfvenv/bin/pip install tensorflow-cpu
    CUDA_VISIBLE_DEVICES= TF_CPP_MIN_LOG_LEVEL=2 /work/tfvenv/bin/python benchmarks/keras_cnn_reference.py \
        --data ../shared/data/fashion-mnist --seeds 0 1 2 --epochs 5 --threads 1 --out docs/keras-cnn-reference.json

The network is Keras's MNIST convnet example (keras.io/examples/vision/mnist_convnet) as
reglab's `cnn` study (src/reglab/studies/cnn.toml) sets it: padding "same" instead of the
example's "valid", batch size 32 instead of 128, Adam 1e-3. Everything else is Keras's default,
which is what reglab's Keras-compatible mode copies: Glorot-uniform kernels (conv fans
kh·kw·channels), zero bias, Adam epsilon 1e-7, BatchNormalization momentum 0.99 and epsilon 1e-3.

    cnn         Conv2D 32 relu, MaxPool 2, Conv2D 64 relu, MaxPool 2, Flatten, Dropout 0.5, Dense 10
    cnn_bn      each Conv2D without activation, then BatchNormalization, then ReLU (reglab's
                batch_norm position "before" the activation)
    cnn_aug     RandomTranslation 0.1, RandomRotation ±10°, RandomZoom ±10% in front of the network
                (active only while training), zeros outside the image as reglab's augmentation
    cnn_bn_aug  both
    cnn_aug_warp, cnn_bn_aug_warp   the augmentation as one warp per image, as reglab draws it
                (RandomWarp below), instead of Keras's three layers (not run by default)

Data as keras_reference.py and reglab's study: pixels / 255, train on x_train[:10000], validate
on x_train[10000:12000], test on all 10,000 test images.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_reference import load_fashion_mnist  # noqa: E402


class RandomWarp(layers.Layer):
    """reglab's augmentation (techniques/augmentation.py) as one Keras layer: per image, one affine
    warp drawn uniformly (shift ± `shift` of the size, rotation ± `rotation` degrees, scale
    1 ± `scale`, about the image centre), one bilinear resampling, zeros outside. Keras's own
    layers (RandomTranslation, RandomRotation, RandomZoom) resample three times in a row."""

    def __init__(self, shift: float, rotation: float, scale: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.shift, self.rotation, self.scale = shift, rotation, scale
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        ops = keras.ops
        height, width = images.shape[1], images.shape[2]
        u = keras.random.uniform((ops.shape(images)[0], 4), -1.0, 1.0, seed=self.seed_generator)
        angle = u[:, 2] * (self.rotation * np.pi / 180)
        factor = 1.0 + u[:, 3] * self.scale
        tx, ty = u[:, 0] * (self.shift * width), u[:, 1] * (self.shift * height)
        # affine_transform maps each output pixel (x, y) to the input point it samples:
        # in = M·out + offset, M the inverse of factor·rotation, about the centre (cx, cy).
        a0, a1 = ops.cos(angle) / factor, -ops.sin(angle) / factor
        b0, b1 = ops.sin(angle) / factor, ops.cos(angle) / factor
        cx, cy = (width - 1) / 2, (height - 1) / 2
        a2 = cx - (a0 * (cx + tx) + a1 * (cy + ty))
        b2 = cy - (b0 * (cx + tx) + b1 * (cy + ty))
        zeros = ops.zeros_like(a0)
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                                          fill_value=0, data_format="channels_last")


def create_cnn(batch_norm: bool, augmentation: bool, one_warp: bool = False) -> keras.Model:
    stack = [keras.Input(shape=(28, 28, 1))]
    if augmentation and one_warp:
        stack.append(RandomWarp(shift=0.1, rotation=10.0, scale=0.1))
    elif augmentation:
        # reglab draws one affine warp per image (shift as a fraction of the size, rotation in
        # degrees, scale 1 ± 0.1) with zeros outside; Keras applies three layers in turn.
        stack += [layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
                  layers.RandomRotation(10 / 360, fill_mode="constant"),  # factor: a fraction of 2π
                  layers.RandomZoom(0.1, fill_mode="constant")]
    for filters in (32, 64):
        if batch_norm:
            stack += [layers.Conv2D(filters, kernel_size=(3, 3), padding="same"),
                      layers.BatchNormalization(), layers.Activation("relu")]
        else:
            stack += [layers.Conv2D(filters, kernel_size=(3, 3), padding="same", activation="relu")]
        stack.append(layers.MaxPooling2D(pool_size=(2, 2)))
    stack += [layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")]
    return keras.Sequential(stack)


MODELS = {
    "cnn": dict(batch_norm=False, augmentation=False),
    "cnn_aug": dict(batch_norm=False, augmentation=True),
    "cnn_bn": dict(batch_norm=True, augmentation=False),
    "cnn_bn_aug": dict(batch_norm=True, augmentation=True),
    # The augmentation as reglab draws it, in one warp (RandomWarp): tells the augmentation
    # layers' own effect apart from the rest of the network.
    "cnn_aug_warp": dict(batch_norm=False, augmentation=True, one_warp=True),
    "cnn_bn_aug_warp": dict(batch_norm=True, augmentation=True, one_warp=True),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/fashion-mnist")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", nargs="+", default=["cnn", "cnn_aug", "cnn_bn", "cnn_bn_aug"], choices=list(MODELS))
    p.add_argument("--epochs", type=int, default=15, help="the study's 15 by default")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="TensorFlow's intra- and inter-op threads")
    p.add_argument("--out", default="docs/keras-cnn-reference.json")
    args = p.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(args.data)
    x_train = (x_train.astype("float32") / 255).reshape(-1, 28, 28, 1)
    x_test = (x_test.astype("float32") / 255).reshape(-1, 28, 28, 1)
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)
    x_fit, y_fit = x_train[:10000], y_train[:10000]
    x_val, y_val = x_train[10000:12000], y_train[10000:12000]

    results = {
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "threads": args.threads,
                    "devices": [d.name for d in tf.config.list_physical_devices()]},
        "command": " ".join([sys.executable] + sys.argv),
        "epochs": args.epochs, "batch_size": args.batch_size,
        "runs": [],
    }
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    t_all = time.perf_counter()
    for seed in args.seeds:
        for name in args.models:
            keras.utils.set_random_seed(seed)
            model = create_cnn(**MODELS[name])
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                          loss="categorical_crossentropy", metrics=["accuracy"])
            t0 = time.perf_counter()
            history = model.fit(x_fit, y_fit, epochs=args.epochs, batch_size=args.batch_size,
                                validation_data=(x_val, y_val), verbose=0)
            fit_s = time.perf_counter() - t0
            test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
            h = {k: [float(v) for v in vs] for k, vs in history.history.items()}
            results["runs"].append({
                "model": name, "seed": seed, "epochs": args.epochs,
                "test_accuracy": float(test_acc), "test_loss": float(test_loss),
                "final": {k: vs[-1] for k, vs in h.items()}, "history": h,
                "fit_seconds": fit_s, "wall_seconds": time.perf_counter() - t0,
            })
            print(f"seed {seed} {name:10s} test_acc {test_acc:.4f} test_loss {test_loss:.4f} "
                  f"val_acc {h['val_accuracy'][-1]:.4f} loss {h['loss'][-1]:.4f} "
                  f"val_loss {h['val_loss'][-1]:.4f} {fit_s:6.1f}s", flush=True)
            keras.backend.clear_session()
            results["total_seconds"] = time.perf_counter() - t_all
            with open(out, "w") as f:  # after every run, so a stopped job keeps what it finished
                json.dump(results, f, indent=1)
    print(f"total {results['total_seconds']:.1f}s -> {args.out}")


if __name__ == "__main__":
    main()
