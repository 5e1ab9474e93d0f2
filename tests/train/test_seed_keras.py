"""The seed's own Keras networks, built from the seed's code, against zoo's presets.

Keras runs on its torch backend, from the seed's ``resnet_layer``, ``resnet_v1`` and
``resnet_v2`` exactly as the seed writes them (../shared/seed). Small depths and a few images
keep this quick.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.errors import ZooError
from zoo.inspect import count_parameters

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras' numpy 2 shims

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
FORMATS = (".keras", ".h5", ".weights.h5")


@pytest.fixture(scope="module")
def seed() -> dict:
    """The seed's builder functions, compiled from the seed's text with Keras' layers."""
    files = sorted(SEED.glob("*.txt"))
    if not files or keras.backend.backend() != "torch":
        pytest.skip("needs ../shared/seed and Keras on its torch backend")
    lines = files[0].read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("def resnet_layer"))
    v2 = next(i for i, line in enumerate(lines) if line.startswith("def resnet_v2"))
    end = next(i for i in range(v2, len(lines)) if lines[i].startswith("    return model"))
    namespace = {"keras": keras, "l2": keras.regularizers.l2, "Model": keras.models.Model}
    for name in ("Dense", "Conv2D", "BatchNormalization", "Activation", "AveragePooling2D",
                 "Input", "Flatten"):  # fmt: skip
        namespace[name] = getattr(keras.layers, name)
    exec("\n".join(lines[start : end + 1]), namespace)  # the seed's own code, as printed
    return namespace


def keras_model(seed: dict, version: str, depth: int):
    """The seed's network with random weights and non-trivial batch-norm statistics."""
    keras.utils.set_random_seed(depth)
    model = seed[f"resnet_{version}"]((32, 32, 3), depth)
    rng = np.random.default_rng(depth)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c),
                 rng.uniform(-0.5, 0.5, c), rng.uniform(0.5, 2.0, c)]
            )  # fmt: skip
    return model


def save(model, path: Path) -> Path:
    if path.name.endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path)
    return path


def keras_logits(model, images: np.ndarray) -> np.ndarray:
    """The Keras model's output before its softmax."""
    model.layers[-1].activation = keras.activations.linear
    return np.asarray(model(images, training=False).detach().cpu())


def zoo_logits(network: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return network.eval()(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()


@pytest.mark.parametrize(("version", "depth"), [("v1", 20), ("v2", 11), ("v2", 29)])
def test_counts_equal_the_seeds(seed, version, depth):
    model = keras_model(seed, version, depth)
    with torch.device("meta"):
        network = zoo.build_model(f"resnet{depth}_{version}")
    assert sum(count_parameters(network)) == model.count_params()


@pytest.mark.parametrize(("version", "depth"), [("v1", 20), ("v2", 11)])
@pytest.mark.parametrize("suffix", FORMATS)
def test_the_seeds_files_load_with_the_seeds_outputs(seed, version, depth, suffix, tmp_path):
    model = keras_model(seed, version, depth)
    path = save(model, tmp_path / f"cifar10_ResNet{depth}{version}_model.001{suffix}")
    images = np.random.default_rng(0).standard_normal((4, 32, 32, 3)).astype("float32")
    expected = keras_logits(model, images)
    actual = zoo_logits(zoo.build_model(f"resnet{depth}_{version}", weights=path), images)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_symmetric_padding_is_not_the_seeds_function(seed, tmp_path):
    """The test above can fail: v1 with PyTorch's symmetric padding gives other outputs."""
    model = keras_model(seed, "v1", 20)
    path = save(model, tmp_path / "v1.keras")
    images = np.random.default_rng(0).standard_normal((4, 32, 32, 3)).astype("float32")
    expected = keras_logits(model, images)
    network = zoo.build_model("resnet20_v1", weights=path, padding="symmetric")
    difference = np.abs(zoo_logits(network, images) - expected).max()
    assert difference > 1e-2 * np.abs(expected).max()


def test_a_file_of_another_network_says_what_it_holds(seed, tmp_path):
    path = save(keras_model(seed, "v1", 20), tmp_path / "v1.weights.h5")
    holds = "holds the seed's ResNet v1 of depth 20 (resnet20_v1), which does not fit resnet32_v1"
    with pytest.raises(ZooError, match=re.escape(holds)):
        zoo.build_model("resnet32_v1", weights=path)
    with pytest.raises(ZooError, match="does not fit resnet20_v2"):
        zoo.build_model("resnet20_v2", weights=path)
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(ZooError, match="not a readable Keras file"):
        zoo.build_model("resnet20_v1", weights=tmp_path / "bad.keras")


def test_a_seed_model_trains_on_in_zoo(seed, run_zoo, cifar_root, tmp_path):
    """A .keras file from the seed's resnet_v1(depth=20) fine-tunes with `zoo train`."""
    path = save(keras_model(seed, "v1", 20), tmp_path / "seed.keras")
    recipe = tmp_path / "finetune.toml"
    recipe.write_text(
        f'[model]\npreset = "resnet20_v1"\nweights = "{path}"\n'
        '[data]\ndataset = "cifar10"\ndownload = false\n'
        "[train]\nepochs = 1\nbatch_size = 8\n"
    )
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"),
                     "--data-dir", str(cifar_root), "--no-progress")  # fmt: skip
    assert result.code == 0, result.err
    trained = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    start = zoo.build_model("resnet20_v1", weights=path).state_dict()
    assert not torch.equal(trained["stem.conv.weight"], start["stem.conv.weight"])
