"""torchvision's networks and weights, timm both ways, paper stages and old checkpoints."""

from __future__ import annotations

import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

import zoo
from zoo.architectures.weights import rename_torchvision_resnet
from zoo.errors import UnknownNameError, ZooError

SMALL_IMAGENET = torch.Size([2, 3, 64, 64])
"""Small inputs keep the comparisons fast; every torchvision network here takes them."""


def with_batch_norm_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so that a BN mapped onto the wrong layer,
    or left fresh, changes the outputs."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.rand(channels, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(channels, generator=generator) - 0.5)
    return model.eval()


def torchvision_file(name: str, tmp_path: Path, **kwargs) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    model = with_batch_norm_statistics(torchvision.models.get_model(name, **kwargs))
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return model, path


def same_logits(theirs: nn.Module, ours: nn.Module, shape=SMALL_IMAGENET) -> None:
    image = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = theirs.eval()(image), ours.eval()(image)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    assert expected.abs().max() > 1e-3  # the comparison is not of zeros


@pytest.mark.parametrize(
    "name",
    [
        "resnet18",
        "resnet50",
        "resnext50_32x4d",
        pytest.param("wide_resnet50_2", marks=pytest.mark.slow),  # 5-7 s each: a VGG's 130 M
        pytest.param("vgg11", marks=pytest.mark.slow),  # parameters are written and read back
        pytest.param("vgg11_bn", marks=pytest.mark.slow),
    ],
)
def test_torchvision_weights_give_torchvisions_outputs(name, tmp_path):
    theirs, path = torchvision_file(name, tmp_path, num_classes=10)
    ours = zoo.build_model(name, weights=path, num_classes=10)
    shape = (2, 3, 32, 32) if name.startswith("vgg") else SMALL_IMAGENET
    same_logits(theirs, ours, shape)


def test_parameter_counts_equal_torchvisions_for_every_network():
    for name, params in zoo.architectures.names.TORCHVISION_RESNETS.items():
        with torch.device("meta"):
            ours = zoo.build_model(name)
            theirs = torchvision.models.get_model(name)
        count = sum(p.numel() for p in theirs.parameters())
        assert sum(p.numel() for p in ours.parameters()) == count, (name, params)


def test_safetensors_and_zoo_runs_load_the_same_weights(tmp_path):
    theirs, _ = torchvision_file("resnet18", tmp_path, num_classes=10)
    safetensors_path = tmp_path / "r18.safetensors"
    save_file(theirs.state_dict(), safetensors_path)
    same_logits(theirs, zoo.build_model("resnet18", weights=safetensors_path, num_classes=10))
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"format": 2, "model": theirs.state_dict()}, run / "best.pt")
    same_logits(theirs, zoo.build_model("resnet18", weights=run, num_classes=10))


def test_another_class_count_starts_a_fresh_classifier_and_says_so(tmp_path):
    theirs, path = torchvision_file("resnet18", tmp_path)
    with pytest.warns(UserWarning, match="1000 classes and the network 7: the classifier"):
        ours = zoo.build_model("resnet18", weights=path, num_classes=7)
    assert ours.head.fc.out_features == 7
    torch.testing.assert_close(ours.stem.conv.weight, theirs.conv1.weight)


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda p: torch.save(torchvision.models.resnet34().state_dict(), p), "do not fit"),
        (lambda p: p.write_bytes(b"\x80\x02truncated"), "not a"),
        (lambda p: torch.save({"a": 1}, p), "holds no state dict|names to tensors"),
        (lambda p: torch.save({"x.weight": torch.zeros(1)}, p), "unknown names"),
    ],
)
def test_weights_that_do_not_fit_are_one_clear_error(make_file, message, tmp_path, run_zoo):
    path = tmp_path / "weights.pth"
    make_file(path)
    with pytest.raises(ZooError, match=message):
        zoo.build_model("resnet18", weights=path)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[model]\npreset = "resnet18"\nweights = "{path}"\n')
    result = run_zoo("recipe", "show", str(recipe))
    assert result.code == 0  # showing a recipe reads no weights
    with pytest.raises(ZooError, match=message):
        zoo.recipe.load_recipe(recipe).build()


@pytest.mark.parametrize("size", [4096, 10 * 2**30], ids=["zeros", "sparse-10GiB"])
def test_a_file_that_is_no_checkpoint_never_advises_the_unsafe_loader(size, tmp_path):
    path = tmp_path / "weights.pt"
    with path.open("wb") as file:
        file.truncate(size)  # zeros; the large one sparse, so nothing is written
    with pytest.raises(ZooError, match="not a zip-format torch file") as caught:
        zoo.build_model("resnet20_v1", weights=path)
    assert "weights_only" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_run_of_another_network_says_what_it_holds(tmp_path):
    from zoo.recipe import load_recipe
    from zoo.train.loop import train

    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'model = "resnet8_v1"\n[data]\ndataset = "shapes"\ntrain_size = 32\nval_size = 8\n'
        "[train]\nepochs = 1\nbatch_size = 16\n"
    )
    train(load_recipe(recipe), tmp_path / "run", quiet=True)
    with pytest.raises(
        ZooError, match=r"do not fit resnet20_v1 .*; it holds a zoo run of resnet8_v1"
    ):
        zoo.build_model("resnet20_v1", weights=tmp_path / "run")


def test_a_missing_weights_file_is_one_line(run_zoo, tmp_path):
    with pytest.raises(ZooError, match="no such weights file"):
        zoo.build_model("resnet18", weights=tmp_path / "nothing.pth")


def test_pickled_code_in_weights_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"stem.conv.weight": torch.zeros(1), "x": Path(".")}, path)
    with pytest.raises(ZooError, match=r"refusing to load|pickled"):
        zoo.build_model("resnet18", weights=path)


def test_torchvision_weights_offline_say_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("offline test")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ZooError, match=r"resnet50-11ad3fa6\.pth.*put it at .*checkpoints"):
        zoo.build_model("resnet50", weights="IMAGENET1K_V2")
    with pytest.raises(ZooError, match=r"unknown weights 'IMAGENET9K'.*IMAGENET1K_V1"):
        zoo.build_model("resnet50", weights="IMAGENET9K")
    with pytest.raises(ZooError, match="not a torchvision network"):
        zoo.build_model("resnet20_v1", weights="torchvision")


def test_torchvision_weights_come_from_torch_hubs_cache(monkeypatch, tmp_path):
    theirs = with_batch_norm_statistics(torchvision.models.resnet18())
    calls = []

    def cached(url, *args, **kwargs):
        calls.append((url, kwargs.get("check_hash")))
        return theirs.state_dict()

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", cached)
    same_logits(theirs, zoo.build_model("resnet18", weights="torchvision"))
    assert calls == [(torchvision.models.ResNet18_Weights.DEFAULT.url, True)]


def test_stages_are_the_papers_stages():
    expected = {"resnet20_v1": 3, "resnet164_v2": 3, "plain20": 3, "resnet50": 4, "vgg11": 5}
    for name, count in expected.items():
        with torch.device("meta"):
            network = zoo.build_model(name)
        assert len(network.stages) == count, name
        assert isinstance(network.head.fc, nn.Linear)
    assert [stage.depth for stage in zoo.get_spec("resnet164_v2").stages] == [18, 18, 18]


def test_the_imagenet_stem_pools_3x3_with_padding():
    pool = zoo.build_model("resnet18").stem.pool
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)


def test_timm_model_contract_on_zoo_networks():
    network = zoo.build_model("resnet20_v2", num_classes=5).eval()
    image = torch.randn(2, 3, 32, 32)
    features = network.forward_features(image)
    assert features.shape == (2, network.num_features, 8, 8)
    torch.testing.assert_close(network.forward_head(features), network(image))
    assert network.forward_head(features, pre_logits=True).shape == (2, 256)
    assert [info["reduction"] for info in network.feature_info] == [1, 2, 4]
    network.reset_classifier(3)
    assert network(image).shape == (2, 3) and network.spec.num_classes == 3
    network.reset_classifier(0)
    assert network(image).shape == (2, 256)


def test_features_only_returns_each_stages_map():
    backbone = zoo.build_model("resnet18", features_only=True)
    maps = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (info["num_chs"], 64 // info["reduction"], 64 // info["reduction"])
        for info in backbone.feature_info
    ]
    assert [info["module"] for info in backbone.feature_info] == [f"stages.{i}" for i in range(4)]


def test_features_only_loads_the_body_of_whole_weights(tmp_path):
    theirs, path = torchvision_file("resnet18", tmp_path)
    backbone = zoo.build_model("resnet18", weights=path, features_only=True)
    torch.testing.assert_close(backbone.stem.conv.weight, theirs.conv1.weight)


def test_timm_and_torchvision_models_are_architectures(run_zoo):
    result = run_zoo("summarize", "timm/resnet18", "--json")
    assert result.code == 0 and '"trainable": 11689512' in result.out
    model = zoo.build_model("torchvision/resnet18", num_classes=4).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4)
    with pytest.raises(UnknownNameError, match="did you mean timm/resnet18"):
        zoo.build_model("timm/resnet81")
    result = run_zoo("summarize", "torchvision/resnett18")
    assert result.code == 2 and "did you mean torchvision/resnet18" in result.err
    with pytest.raises(ZooError, match="features_only needs stages"):
        zoo.build_model("torchvision/resnet18", features_only=True)


def test_zoo_networks_in_timm():
    import timm

    import zoo.timm  # noqa: F401

    assert "zoo_resnet20_v1" in timm.list_models("zoo_*")
    network = timm.create_model("zoo_resnet56_v2", num_classes=100, in_chans=1)
    assert network(torch.randn(1, 1, 32, 32)).shape == (1, 100)
    assert network.pretrained_cfg["input_size"] == (1, 32, 32)
    backbone = timm.create_model("zoo_resnet20_v1", features_only=True)
    assert len(backbone(torch.randn(1, 3, 32, 32))) == 3
    with pytest.raises(TypeError, match="does not take drop_path_rate"):
        timm.create_model("zoo_resnet20_v1", drop_path_rate=0.1)


def test_zoo_checkpoints_of_format_1_are_migrated_once(tmp_path):
    """A format-1 state dict of resnet20_v1: five stages (the strided block split off) and a
    head of numbered layers. Its tensors load onto the same layers of today's network."""
    torch.manual_seed(0)
    network = with_batch_norm_statistics(zoo.build_model("resnet20_v1"))
    old_names = {}
    for key in network.state_dict():
        old = key
        if key.startswith("stages."):
            _, stage, block, rest = key.split(".", 3)
            stage, block = int(stage), int(block)
            if stage == 0:
                old = f"stages.0.{block}.{rest}"
            elif block == 0:
                old = f"stages.{2 * stage - 1}.0.{rest}"
            else:
                old = f"stages.{2 * stage}.{block - 1}.{rest}"
        old = old.replace("head.fc.", "head.2.")
        old_names[key] = old
    old_state = {old_names[key]: value for key, value in network.state_dict().items()}
    fresh = zoo.build_model("resnet20_v1")
    with pytest.warns(UserWarning, match="migrated the weights from zoo's layout"):
        zoo.architectures.weights.fit_and_load(fresh, old_state, "old.pt", legacy=True)
    same_logits(network, fresh, (2, 3, 32, 32))


def test_torchvision_resnet_names_map_to_stages():
    assert rename_torchvision_resnet("layer2.0.downsample.1.weight") == (
        "stages.1.0.shortcut.norm.weight"
    )
    assert rename_torchvision_resnet("layer4.2.conv3.weight") == "stages.3.2.conv3.weight"
    assert rename_torchvision_resnet("fc.bias") == "head.fc.bias"


def test_recipes_take_weights_and_outside_models(tmp_path):
    theirs, path = torchvision_file("resnet18", tmp_path, num_classes=10)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[model]\npreset = "resnet18"\nnum_classes = 10\nweights = "{path}"\n')
    same_logits(theirs, zoo.recipe.load_recipe(recipe).build())
    recipe.write_text('[model]\npreset = "timm/resnet10t"\nnum_classes = 3\n')
    model = zoo.recipe.load_recipe(recipe).build().eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 3)


@pytest.mark.parametrize(
    ("recipe", "model"),
    [
        ('model = "resnet20_v1"\n', {"preset": "resnet20_v1", "padding": "symmetric"}),
        (
            '[model]\narch = "resnet_v2"\ndepth = 11\n',
            {"arch": "resnet_v2", "depth": 11, "padding": "symmetric"},
        ),
        ('model = "vgg11"\n', {"preset": "vgg11_cifar"}),
        ('model = "resnet20_v1_paper"\n', {"preset": "resnet20_v1_paper"}),
    ],
)
def test_format_1_checkpoints_build_the_network_they_were_trained_as(recipe, model, tmp_path):
    import tomllib

    from zoo.runs.checkpoint import load_checkpoint

    path = tmp_path / "last.pt"
    torch.save(
        {
            "format": 1,
            "model": {},
            "epoch": 1,
            "recipe": recipe,
            "classes": [],
            "normalizer": {"mean": torch.zeros(3), "std": torch.ones(3)},
        },
        path,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state = load_checkpoint(path)
    saved = tomllib.loads(state["recipe"])["model"]
    assert (saved if isinstance(saved, dict) else {"preset": saved}) == model
    padded = "padding" in model and "padding" not in recipe
    assert [("symmetric padding" in str(w.message)) for w in caught] == ([True] if padded else [])


def test_full_torchvision_weights_names_are_names_not_paths(monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub")

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("offline test")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ZooError, match="cannot download"):
        zoo.build_model("resnet50", weights="ResNet50_Weights.IMAGENET1K_V2")


@pytest.mark.slow
def test_vgg_weights_in_safetensors_load_in_their_order(tmp_path):
    theirs, _ = torchvision_file("vgg11_bn", tmp_path, num_classes=10)
    path = tmp_path / "vgg.safetensors"
    save_file(theirs.state_dict(), path)
    same_logits(theirs, zoo.build_model("vgg11_bn", weights=path, num_classes=10), (2, 3, 32, 32))


def test_another_network_with_another_class_count_is_one_error(tmp_path):
    _, path = torchvision_file("resnet34", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "starts fresh" line before the error
        with pytest.raises(ZooError, match="do not fit"):
            zoo.build_model("resnet18", weights=path, num_classes=7)


def test_todays_weights_of_another_network_are_not_migrated(tmp_path):
    path = tmp_path / "r18.pt"
    torch.save({"format": 2, "model": zoo.build_model("resnet18").state_dict()}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ZooError, match="do not fit resnet20_v1"):
            zoo.build_model("resnet20_v1", weights=path)


def test_groups_that_do_not_divide_the_width_are_one_line():
    spec = zoo.get_spec("resnet50").model_copy(deep=True)
    spec.block_options["groups"] = 7
    with pytest.raises(ZooError, match=r"model.stages\[0\] \(block 'bottleneck'\): .*groups"):
        zoo.build_network(spec)


def test_timm_weights_without_network_fail_at_once(monkeypatch, tmp_path):
    """No endpoint answers: huggingface_hub runs offline for that build, so a missing file is one
    error at once (no retries over sockets), and the hub's mode is restored afterwards."""
    from huggingface_hub import constants

    from zoo.architectures import external

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    probes, connects = [], []
    monkeypatch.setattr(external, "hub_answers", lambda endpoint: probes.append(endpoint))
    monkeypatch.setattr("socket.socket.connect", lambda self, address: connects.append(address))
    with pytest.raises(ZooError, match=r"timm/resnet18: cannot download its weights.*cache"):
        zoo.build_model("timm/resnet18", weights="timm")
    assert probes == [constants.ENDPOINT] and connects == []
    assert constants.HF_HUB_OFFLINE is False


def test_the_hub_probe_is_a_tcp_connect_to_the_endpoint_or_proxy(monkeypatch):
    import socket

    from zoo.architectures.external import hub_answers

    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert hub_answers(f"http://127.0.0.1:{port}")
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")  # the proxy is what must answer
        assert not hub_answers(f"http://127.0.0.1:{port}")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        assert hub_answers("https://huggingface.invalid")
    assert not hub_answers(f"http://127.0.0.1:{port}", timeout=0.5)  # closed now


def keras3_weights(path: Path, layers: dict[str, list[np.ndarray]]) -> Path:
    """A ``.weights.h5`` in Keras 3's layout (``layers/NAME/vars/I``), written with h5py."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as file:
        for name, arrays in layers.items():
            group = file.create_group(f"layers/{name}/vars")
            for index, array in enumerate(arrays):
                group.create_dataset(str(index), data=array)
    return path


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ({"conv2d": [np.zeros(16, np.float32)]}, r"layer conv2d holds arrays of shapes \[\[16\]\]"),
        (
            {"batch_normalization": [np.ones(16, np.float32)] * 3},
            "a Keras batch_normalization layer holds 4 vectors",
        ),
        ({"dense": [np.zeros((64, 10), np.float32)]}, "a Keras dense layer holds a kernel"),
    ],
    ids=["rank-1-kernel", "bn-with-3-arrays", "dense-without-bias"],
)
def test_malformed_keras_weights_are_one_line(layers, message, tmp_path):
    path = keras3_weights(tmp_path / "bad.weights.h5", layers)
    with pytest.raises(ZooError, match=message) as caught:
        zoo.build_model("resnet20_v1", weights=path)
    assert "\n" not in str(caught.value)


def test_a_keras_archive_is_read_only_up_to_its_bound(tmp_path, monkeypatch):
    """The weights member is read with a bound, whatever its header claims."""
    import zipfile

    from zoo.architectures import keras

    inner = keras3_weights(tmp_path / "model.weights.h5", {"dense": [np.zeros((2, 2), np.float32)]})
    archive = tmp_path / "big.keras"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(inner, "model.weights.h5")
    monkeypatch.setattr(keras, "MAX_ARCHIVE_WEIGHTS", inner.stat().st_size - 1)
    with pytest.raises(ZooError, match=r"model\.weights\.h5 is larger than 0 MiB, .*; not read"):
        zoo.build_model("resnet20_v1", weights=archive)
