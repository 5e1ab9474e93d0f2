"""Families, presets and the builder against the documented figures and the depth rules."""

from __future__ import annotations

import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo
from zoo.architectures import NetworkSpec, build_network, presets, resolve
from zoo.errors import UnknownNameError, ZooError
from zoo.inspect import count_parameters, summarize


def on_meta(name: str, **params):
    with torch.device("meta"):
        return zoo.build_model(name, **params)


@pytest.mark.parametrize(
    "name",
    sorted(
        set(presets.names())
        & {
            "resnet20_v1",
            "resnet32_v1",
            "resnet44_v1",
            "resnet56_v1",
            "resnet110_v1",
            "resnet164_v1",
            "resnet1202_v1",
            "resnet20_v2",
            "resnet29_v2",
            "resnet56_v2",
            "resnet110_v2",
            "resnet164_v2",
            "resnet1001_v2",
        }
    ),
)
def test_presets_are_exactly_the_seeds_keras_definitions(name, reference):
    trainable, non_trainable = count_parameters(on_meta(name))
    expected = reference["keras_counts"][name]
    assert (trainable, non_trainable) == (expected["trainable"], expected["non_trainable"])
    assert trainable + non_trainable == expected["total"]


def test_resnet29_v2_has_the_seeds_printed_totals():
    trainable, non_trainable = count_parameters(on_meta("resnet29_v2"))
    assert (trainable + non_trainable, trainable, non_trainable) == (849_002, 843_786, 5_216)


@pytest.mark.parametrize("table", ["paper_v1_option_a", "paper_v2_preact"])
def test_paper_presets_have_the_papers_exact_counts(table, reference):
    for name, entry in reference[table].items():
        trainable, _ = count_parameters(on_meta(name))
        assert trainable == entry["trainable"], name


def test_the_shipped_table_holds_the_projects_reference(reference, shared_reference):
    if shared_reference is None:
        pytest.skip("../shared/reference is not beside this checkout")
    for table, figures in shared_reference.items():
        if isinstance(figures, dict):
            assert figures.items() <= reference[table].items(), table
        else:
            assert reference[table] == figures, table


def test_the_torchvision_figures_are_those_of_torchvisions_weights(reference):
    from torchvision.models import get_model_weights

    for name, gmacs in reference["torchvision_gmacs"].items():
        meta = get_model_weights(name).DEFAULT.meta
        assert (meta["num_params"], meta["_ops"]) == (
            reference["torchvision_imagenet"][name],
            gmacs,
        ), name


@pytest.mark.parametrize(
    "name",
    ["resnet20_v1", "resnet56_v1", "resnet20_v1_paper", "resnet56_v1_paper", "resnet110_v1_paper"],
)
def test_macs_match_the_reference(name, reference):
    summary = summarize(on_meta(name), name=name)
    assert summary.macs == pytest.approx(reference["macs"][name], abs=0.005e6)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 12), version=st.sampled_from(["v1", "v2", "plain"]))
def test_any_valid_depth_builds_with_that_depth(n, version):
    depth = 9 * n + 2 if version == "v2" else 6 * n + 2
    name = f"plain{depth}" if version == "plain" else f"resnet{depth}_{version}"
    network = on_meta(name)
    assert summarize(network, macs=False).depth == depth


@settings(max_examples=30, deadline=None)
@given(depth=st.integers(-5, 400))
def test_invalid_depths_are_refused_in_the_seeds_words(depth):
    for family, rule, examples in (
        ("resnet_v1", 6, "20, 32, 44, 56, 110"),
        ("resnet_v2", 9, "29, 56, 110, 164"),
    ):
        valid = depth >= rule + 2 and (depth - 2) % rule == 0
        if valid:
            assert zoo.get_spec(family, depth=depth).stages
        elif depth >= 1:
            with pytest.raises(
                ZooError,
                match=rf"depth should be {rule}n\+2 \(e.g. {examples}\), "
                rf"got {depth}",
            ):
                zoo.get_spec(family, depth=depth)


def test_names_resolve_to_families_and_parameters():
    assert resolve("resnet38_v1").params == {"depth": 38}
    paper = resolve("resnet164_v2_paper")
    assert paper.arch == "resnet_v2" and paper.params["mid_channels"] == (16, 32, 64)
    assert resolve("resnet_v2").arch == "resnet_v2"
    with pytest.raises(UnknownNameError, match="did you mean resnet20_v2, resnet20_v1"):
        resolve("resnet20_v3")


def test_family_parameters_are_validated_with_their_names():
    with pytest.raises(ZooError, match=r"resnet_v1'\)\.dept: unknown key; valid keys: depth"):
        zoo.get_spec("resnet_v1", dept=20)
    with pytest.raises(ZooError, match=r"depth: Input should be 11, 13, 16 or 19"):
        zoo.get_spec("vgg12")
    with pytest.raises(ZooError, match=r"depth: missing required key"):
        zoo.get_spec("resnet_v1")


def test_num_classes_and_input_channels_change_the_network():
    network = zoo.build_model("resnet20_v1", num_classes=100, in_channels=1)
    assert network(torch.randn(2, 1, 32, 32)).shape == (2, 100)


def test_cifar_vgg_convolutions_are_torchvisions():
    for depth in (11, 16):
        ours = on_meta(f"vgg{depth}_cifar")
        theirs = getattr(torchvision.models, f"vgg{depth}_bn")(weights=None).features
        assert sum(p.numel() for p in ours.stages.parameters()) == sum(
            p.numel() for p in theirs.parameters()
        )


def test_a_network_built_from_its_spec_runs_and_keeps_its_spec():
    spec = zoo.get_spec("resnet20_v2")
    network = build_network(spec)
    assert network.spec == spec and isinstance(spec, NetworkSpec)
    assert network(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_he_normal_init_is_the_keras_variance():
    network = zoo.build_model("resnet56_v1")
    conv = network.stages[2][1].conv1
    fan_in = conv.in_channels * 9
    assert conv.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    assert torch.count_nonzero(conv.bias) == 0


def test_explicit_spec_errors_name_the_place():
    spec = NetworkSpec(
        stages=[
            {"block": "identity_residual", "channels": 3},
            {"block": "bottlenek", "channels": 8},
        ]
    )
    with pytest.raises(
        ZooError,
        match=r"model.stages\[1\].block: unknown block 'bottlenek'; "
        r"did you mean bottleneck",
    ):
        build_network(spec)
    spec = NetworkSpec(stages=[{"block": "bottleneck", "channels": 8, "widht": 3}])
    with pytest.raises(
        ZooError,
        match=r"model.stages\[0\].widht: unknown key; valid keys: block, "
        r"channels, stride, pool, depth, first_block, order, mid_channels",
    ):
        build_network(spec)


@pytest.mark.parametrize("depth", [True, "20", 20.0])
def test_a_depth_of_the_wrong_type_says_so(depth):
    with pytest.raises(ZooError, match=r"depth: Input should be a valid integer"):
        zoo.get_spec("resnet_v1", depth=depth)
