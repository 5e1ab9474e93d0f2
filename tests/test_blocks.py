"""Blocks: the factory contract (shapes, strides), orderings, shortcuts and option errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from zoo.blocks import blocks
from zoo.blocks.shortcuts import ZeroPadShortcut
from zoo.blocks.units import ConvNormAct
from zoo.errors import ZooError


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["conv_bn_relu", "projection_residual", "bottleneck"]),
    in_channels=st.integers(1, 12),
    out_channels=st.integers(4, 16),
    stride=st.sampled_from([1, 2]),
    size=st.sampled_from([4, 8, 10]),
    order=st.sampled_from(["post", "pre"]),
)
def test_blocks_map_shapes_as_the_contract_says(
    name, in_channels, out_channels, stride, size, order
):
    block = blocks.get(name)(in_channels, out_channels, stride=stride, order=order)
    out = block(torch.randn(2, in_channels, size, size))
    assert out.shape == (2, out_channels, -(-size // stride), -(-size // stride))


def test_identity_residual_keeps_the_shape_and_adds_the_input():
    block = blocks.get("identity_residual")(8, 8)
    for module in (block.conv1, block.conv2):  # F(x) = 0: the block must return relu(x)
        if isinstance(module, nn.Conv2d):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
    block.eval()
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(block(x), torch.relu(x))


def test_identity_residual_refuses_a_shape_change():
    with pytest.raises(ZooError, match="identity shortcut cannot change the shape"):
        blocks.get("identity_residual")(8, 16, stride=2)


def test_unit_orderings_follow_the_seed():
    post = ConvNormAct(3, 16, order="post")
    pre = ConvNormAct(3, 16, order="pre")
    assert [n for n, _ in post.named_children()] == ["conv", "norm", "act"]
    assert [n for n, _ in pre.named_children()] == ["norm", "act", "conv"]
    assert pre.norm.num_features == 3  # pre-activation normalises the input
    bare = ConvNormAct(3, 16, norm=False, activation=None, bias=False)
    assert [n for n, _ in bare.named_children()] == ["conv"] and bare.conv.bias is None


def test_projection_shortcuts():
    conv = blocks.get("projection_residual")(16, 32, stride=2, shortcut="conv")
    conv_bn = blocks.get("projection_residual")(16, 32, stride=2, shortcut="conv_bn")
    option_a = blocks.get("projection_residual")(16, 32, stride=2, shortcut="zero_pad")
    assert params(conv.shortcut) == 16 * 32 + 32  # Vx + b, the seed's
    assert params(conv_bn.shortcut) == 16 * 32 + 32 + 2 * 32  # bias + BN
    assert params(option_a.shortcut) == 0 and isinstance(option_a.shortcut, ZeroPadShortcut)


def test_zero_pad_shortcut_subsamples_and_pads_with_zeros():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    out = ZeroPadShortcut(2, 5, stride=2)(x)
    assert out.shape == (1, 5, 2, 2)
    assert torch.equal(out[:, :2], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 2:]) == 0


def test_bottleneck_widths_and_stride_position():
    seed_style = blocks.get("bottleneck")(64, 128, stride=2, mid_channels=64, stride_on="1x1")
    paper_style = blocks.get("bottleneck")(64, 128, stride=2, stride_on="3x3")
    convs = [seed_style.conv1, seed_style.conv2, seed_style.conv3]
    assert [c.out_channels for c in convs] == [64, 64, 128]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
    convs = [paper_style.conv1, paper_style.conv2, paper_style.conv3]
    assert [c.out_channels for c in convs] == [32, 32, 128]  # default: out / 4
    assert [c.stride for c in convs] == [(1, 1), (2, 2), (1, 1)]


def test_bottleneck_picks_identity_where_the_shape_is_kept():
    assert isinstance(blocks.get("bottleneck")(64, 64).shortcut, nn.Identity)
    assert not isinstance(blocks.get("bottleneck")(16, 64).shortcut, nn.Identity)


def test_v1_has_the_activation_after_the_addition_and_v2_has_none():
    post = blocks.get("projection_residual")(8, 8, order="post")
    pre = blocks.get("bottleneck")(8, 8, order="pre")
    names = [name for name, _ in post.named_children()]
    assert names == ["conv1", "bn1", "act1", "conv2", "bn2", "shortcut", "act2"]
    assert isinstance(post.act2, nn.ReLU)  # the last activation follows the add
    names = [name for name, _ in pre.named_children()]
    assert names[-1] == "shortcut" and names[-2] == "conv3"  # nothing after the addition


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("basic", {"order": "post"}),
        ("basic", {"order": "pre"}),
        ("plain", {"order": "post"}),
        ("plain", {"order": "pre"}),
        ("bottleneck", {"order": "post", "stride_on": "3x3"}),
        ("bottleneck", {"order": "pre", "stride_on": "1x1"}),
    ],
)
def test_forward_is_the_equation_its_docstring_spells(name, options):
    """Each block's forward, recomputed here from its named layers as the papers write it."""
    torch.manual_seed(0)
    block = blocks.get(name)(8, 16, stride=2, **options).eval()
    x = torch.randn(2, 8, 8, 8)
    relu = torch.relu
    b = block
    if name == "plain" and options["order"] == "post":
        expected = relu(b.bn2(b.conv2(relu(b.bn1(b.conv1(x))))))
    elif name == "plain":
        expected = b.conv2(relu(b.bn2(b.conv1(relu(b.bn1(x))))))
    elif name == "basic" and options["order"] == "post":  # He et al. 2015, Fig. 2
        expected = relu(b.shortcut(x) + b.bn2(b.conv2(relu(b.bn1(b.conv1(x))))))
    elif name == "basic":  # He et al. 2016, Fig. 4(e)
        expected = b.shortcut(x) + b.conv2(relu(b.bn2(b.conv1(relu(b.bn1(x))))))
    elif options["order"] == "post":
        inner = relu(b.bn2(b.conv2(relu(b.bn1(b.conv1(x))))))
        expected = relu(b.shortcut(x) + b.bn3(b.conv3(inner)))
    else:
        inner = b.conv2(relu(b.bn2(b.conv1(relu(b.bn1(x))))))
        expected = b.shortcut(x) + b.conv3(relu(b.bn3(inner)))
    assert torch.allclose(block(x), expected)


def test_a_bare_first_bottleneck_has_no_first_norm():
    block = blocks.get("bottleneck")(16, 64, first_norm_act=False)
    assert block.bn1 is None and block.act1 is None
    assert next(iter(dict(block.named_children()))) == "conv1"


def test_bad_option_values_are_validation_errors():
    with pytest.raises(Exception, match="order"):
        blocks.get("bottleneck")(8, 8, order="sideways")
    with pytest.raises(ZooError, match="unknown activation 'swishy'"):
        blocks.get("conv_bn_relu")(3, 8, activation="swishy")
    with pytest.raises(ZooError, match="max_pool keeps the channel count"):
        blocks.get("max_pool")(8, 16)


def test_an_activation_without_a_norm_never_overwrites_its_input():
    unit = ConvNormAct(3, 8, order="pre", norm=False)
    x = torch.randn(2, 3, 8, 8)
    before = x.clone()
    unit(x)
    assert torch.equal(x, before)


def test_even_kernels_are_refused():
    with pytest.raises(ZooError, match="kernel_size must be odd"):
        blocks.get("conv_bn_relu")(3, 8, kernel_size=2)
