"""Recipes: the three model forms, extends, --set, strictness and messages that name the place."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import zoo
from zoo.architectures import NetworkSpec
from zoo.errors import ZooError
from zoo.inspect import count_parameters
from zoo.recipe import load_recipe, parse_override

REPO = Path(__file__).resolve().parents[1]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_preset_shorthand_table_and_overrides(tmp_path):
    short = load_recipe(write(tmp_path, "a.toml", 'model = "resnet20_v1"\n'))
    table = load_recipe(
        write(tmp_path, "b.toml", '[model]\npreset = "resnet20_v1"\nnum_classes = 100\n')
    )
    assert short.network_spec().num_classes == 10 and short.name == "a"
    assert table.network_spec().num_classes == 100


def test_family_form(tmp_path):
    recipe = load_recipe(write(tmp_path, "f.toml", '[model]\narch = "resnet_v2"\ndepth = 56\n'))
    spec = recipe.network_spec()
    assert [stage.depth for stage in spec.stages] == [6, 6, 6]


def test_explicit_form_builds_the_spelled_out_network(tmp_path):
    path = write(
        tmp_path,
        "e.toml",
        """
[model]
num_classes = 7
[model.stem]
block = "conv_bn_relu"
channels = 16
[[model.stages]]
block = "identity_residual"
channels = 16
repeat = 2
[[model.stages]]
block = "projection_residual"
channels = 32
stride = 2
shortcut = "zero_pad"
[model.head]
hidden = [64]
""",
    )
    recipe = load_recipe(path)
    assert isinstance(recipe.model, NetworkSpec)
    network = recipe.build()
    assert network.head.fc.out_features == 7 and network.head.hidden[0].linear.out_features == 64
    assert [len(stage) for stage in network.stages] == [2, 1]


def test_extends_merges_tables_relative_to_the_file(tmp_path):
    (tmp_path / "bases").mkdir()
    write(tmp_path / "bases", "base.toml", "[train]\nepochs = 3\nbatch_size = 64\n")
    child = write(
        tmp_path,
        "child.toml",
        'extends = "bases/base.toml"\nmodel = "plain20"\n[train]\nepochs = 5\n',
    )
    recipe = load_recipe(child)
    assert (recipe.train.epochs, recipe.train.batch_size) == (5, 64)


def test_a_weights_file_is_relative_to_the_recipe_that_names_it(tmp_path, monkeypatch):
    """As ``extends``: the base's weights sit beside the base, wherever zoo is started; weights
    names stay names; a ``--set`` path is the shell's."""
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "start.pt").write_bytes(b"")
    write(tmp_path / "bases", "base.toml", '[model]\npreset = "plain20"\nweights = "start.pt"\n')
    child = write(tmp_path, "child.toml", 'extends = "bases/base.toml"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_recipe(child).model.weights == str(tmp_path / "bases" / "start.pt")
    named = write(
        tmp_path, "named.toml", '[model]\npreset = "resnet18"\nweights = "IMAGENET1K_V2"\n'
    )
    assert load_recipe(named).model.weights == "IMAGENET1K_V2"
    assert load_recipe(child, ["model.weights=here.pt"]).model.weights == "here.pt"


def test_an_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\nmodel = "plain20"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ZooError, match="extends makes a cycle"):
        load_recipe(tmp_path / "a.toml")


def test_set_overrides_parse_toml_values(tmp_path):
    path = write(tmp_path, "r.toml", 'model = "resnet20_v1"\n')
    recipe = load_recipe(
        path,
        [
            "train.epochs=3",
            "data.augment=[]",
            "model.preset=plain20",
            "optim.lr=0.05",
            "train.compile=true",
        ],
    )
    assert recipe.train.epochs == 3 and recipe.data.augment == []
    assert recipe.network_spec().name == "plain20"
    assert recipe.optim.lr == 0.05 and recipe.train.compile is True


@given(word=st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True))
def test_a_bare_word_is_a_string_unless_it_is_toml(word):
    _, value = parse_override(f"model.preset={word}")
    expected = {"true": True, "false": False, "inf": float("inf")}.get(word, word)
    if word == "nan":
        assert value != value
    else:
        assert value == expected


def test_unknown_keys_name_the_file_the_key_path_and_the_valid_keys(tmp_path):
    path = write(tmp_path, "r.toml", 'model = "resnet20_v1"\n[train]\nepoch = 3\n')
    with pytest.raises(
        ZooError,
        match=r"r.toml: train.epoch: unknown key; valid keys: epochs, "
        r"batch_size",
    ):
        load_recipe(path)
    path = write(tmp_path, "s.toml", 'model = "resnet20_v1"\ncolour = "red"\n')
    with pytest.raises(
        ZooError,
        match=r"s.toml: colour: unknown key; valid keys: name, "
        r"description, model",
    ):
        load_recipe(path)


def test_a_set_of_a_missing_key_says_so(tmp_path):
    path = write(tmp_path, "r.toml", 'model = "resnet20_v1"\n')
    with pytest.raises(ZooError, match=r"train.epoch: unknown key.*\(from --set\)"):
        load_recipe(path, ["train.epoch=3"])
    with pytest.raises(ZooError, match=r"expected KEY\.PATH=VALUE"):
        load_recipe(path, ["train.epochs"])


def test_malformed_toml_gives_the_line(tmp_path):
    path = write(tmp_path, "bad.toml", 'model = "resnet20_v1"\n[train\nepochs = 3\n')
    with pytest.raises(ZooError, match=r"bad.toml: invalid TOML: .*line 2"):
        load_recipe(path)


def test_missing_recipe_and_missing_model(tmp_path):
    with pytest.raises(ZooError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.toml")
    with pytest.raises(ZooError, match=r"empty.toml: model: missing required key"):
        load_recipe(write(tmp_path, "empty.toml", ""))
    with pytest.raises(ZooError, match=r"m.toml: model: give a preset"):
        load_recipe(write(tmp_path, "m.toml", "[model]\nfoo = 1\n"))


def test_model_errors_name_the_recipe(tmp_path):
    path = write(tmp_path, "d.toml", '[model]\narch = "resnet_v1"\ndepth = 21\n')
    with pytest.raises(ZooError, match=r"d.toml: model: resnet_v1: depth should be 6n\+2"):
        load_recipe(path).network_spec()
    path = write(tmp_path, "b.toml", '[[model.stages]]\nblock = "warp_drive"\nchannels = 8\n')
    with pytest.raises(ZooError, match=r"b.toml: model.stages\[0\].block: unknown block"):
        load_recipe(path).build()


def test_a_recipe_cannot_import_code(tmp_path):
    path = write(tmp_path, "evil.toml", '[[model.stages]]\nblock = "os:system"\nchannels = 8\n')
    with pytest.raises(ZooError, match="unknown block 'os:system'"):
        load_recipe(path).build()


@pytest.mark.parametrize("path", sorted((REPO / "recipes").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_recipes_load(path):
    recipe = load_recipe(path)
    assert recipe.network_spec().stages


def test_the_seed_recipe_is_the_seeds(reference):
    recipe = load_recipe(REPO / "recipes" / "resnet29_v2.toml")
    assert recipe.optim.name == "adam" and recipe.optim.lr == 1e-3
    assert recipe.optim.weight_decay == 2e-4 and recipe.optim.decay_on == "conv"
    assert recipe.schedule.milestones == [81, 121, 161, 181]
    assert recipe.schedule.factors == [1e-1, 1e-2, 1e-3, 0.5e-3]
    assert recipe.schedule.plateau.patience == 5 and recipe.schedule.plateau.min_lr == 0.5e-6
    assert (recipe.train.batch_size, recipe.train.epochs) == (32, 200)
    assert recipe.data.augment == ["shift", "flip"] and recipe.data.normalize == "pixel_mean"


def test_family_parameter_errors_name_the_key_path(tmp_path):
    path = write(tmp_path, "w.toml", '[model]\narch = "resnet_v1"\ndepth = 20\nwidth = 3\n')
    with pytest.raises(ZooError, match=r"w.toml: model.width: unknown key; valid keys: depth, "):
        load_recipe(path).network_spec()
    path = write(tmp_path, "p.toml", '[model]\npreset = "resnet20_v1"\nbias = "maybe"\n')
    with pytest.raises(ZooError, match=r"p.toml: model.bias: Input should be a valid boolean"):
        load_recipe(path).network_spec()
    path = write(tmp_path, "u.toml", 'model = "resnet20_v3"\n')
    with pytest.raises(ZooError, match=r"u.toml: model.preset: unknown model 'resnet20_v3'"):
        load_recipe(path).network_spec()


def test_no_activation_survives_a_trip_through_toml(tmp_path):
    import tomli_w

    spec = zoo.get_spec("resnet164_v2_paper")
    assert spec.stem.options["activation"] == "none"
    text = tomli_w.dumps({"model": spec.model_dump(mode="json", exclude_none=True)})
    again = load_recipe(write(tmp_path, "spelled.toml", text))
    network = again.build()
    assert not hasattr(network.stem, "act") and not hasattr(network.stem, "norm")
    assert count_parameters(network) == count_parameters(zoo.build_model("resnet164_v2_paper"))


def test_an_unknown_data_set_fails_when_the_recipe_loads(tmp_path):
    path = write(tmp_path, "d.toml", 'model = "resnet20_v1"\n')
    with pytest.raises(
        ZooError,
        match=r"data.dataset: .*unknown dataset 'cifar11'; did you mean "
        r"cifar10.*\(from --set\)",
    ):
        load_recipe(path, ["data.dataset=cifar11"])


def test_a_set_inside_a_list_is_attributed_to_the_set(tmp_path):
    path = write(tmp_path, "a.toml", 'model = "resnet20_v1"\n')
    with pytest.raises(ZooError, match=r"data.augment\[0\]: .*\(from --set\)"):
        load_recipe(path, ['data.augment=["twirl"]'])


def test_an_error_in_a_base_names_the_base(tmp_path):
    (tmp_path / "bases").mkdir()
    write(tmp_path / "bases", "base.toml", "[train]\nepoch = 3\n")
    child = write(tmp_path, "child.toml", 'extends = "bases/base.toml"\nmodel = "plain20"\n')
    with pytest.raises(
        ZooError,
        match=r"bases/base.toml \(extended by .*child.toml\): "
        r"train.epoch: unknown key",
    ):
        load_recipe(child)
    write(tmp_path / "bases", "base.toml", "[train]\nepochs = 3\n")
    write(
        tmp_path,
        "child.toml",
        'extends = "bases/base.toml"\nmodel = "plain20"\n[train]\nepochs = "three"\n',
    )
    with pytest.raises(ZooError, match=r"^[^(]*child.toml: train.epochs: Input should be"):
        load_recipe(child)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=true", "train.epochs: Input should be a valid integer (got True)"),
        ('train.epochs="3"', "train.epochs: Input should be a valid integer (got '3')"),
        ("train.epochs=2.0", "train.epochs: Input should be a valid integer (got 2.0)"),
        ("train.deterministic=1", "train.deterministic: Input should be a valid boolean"),
        ("optim.lr=true", "optim.lr: Input should be a valid number"),
        ('optim.betas=["0.9", 0.99]', "optim.betas[0]: Input should be a valid number"),
        ("optim.lr=inf", "optim.lr: Input should be a finite number"),
        ("train.seed=9223372036854775808", "train.seed: Input should be less than or equal"),
        ("train.seed=-1", "train.seed: Input should be greater than or equal to 0"),
        ("train.epochs=10000000000", "train.epochs: Input should be less than or equal"),
        ("data.train_size=100000000000", "data.train_size: Input should be less than or equal"),
        ("data.seed=true", "data.seed: Input should be a valid integer"),
        ("schedule.plateau.patience=1e3", "schedule.plateau.patience: Input should be a valid"),
    ],
)
def test_a_wrong_type_or_an_absurd_number_is_an_error(tmp_path, override, message):
    path = write(tmp_path, "a.toml", 'model = "resnet20_v1"\n')
    with pytest.raises(ZooError) as caught:
        load_recipe(path, [override])
    assert message in str(caught.value) and "(from --set)" in str(caught.value)


@given(epochs=st.integers(1, 1_000_000), seed=st.integers(0, 2**30))
def test_every_int_within_bounds_is_read_as_itself(epochs, seed):
    recipe = load_recipe(
        REPO / "recipes" / "quickstart.toml", [f"train.epochs={epochs}", f"train.seed={seed}"]
    )
    assert (recipe.train.epochs, recipe.train.seed) == (epochs, seed)
    assert type(recipe.train.epochs) is int


def test_the_largest_seed_fits_every_generator_the_loader_makes():
    import torch

    from zoo.data.loader import EPOCH_STRIDE, RANK_STRIDE
    from zoo.recipe.training import MAX_EPOCHS, MAX_SEED

    largest = (MAX_SEED * EPOCH_STRIDE + MAX_EPOCHS) * RANK_STRIDE + RANK_STRIDE - 1
    torch.Generator().manual_seed(largest)  # raises if it does not fit
    torch.manual_seed(MAX_SEED)


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("/dev/zero", "/dev/zero: cannot read the recipe: not a regular file"),
        (".", "cannot read the recipe: a directory"),
        ("big.toml", "big.toml: a recipe file is at most 1024 KiB"),
        ("fifo", "fifo: cannot read the recipe: not a regular file"),
    ],
)
def test_a_base_that_is_no_regular_file_or_too_big_is_refused(tmp_path, base, message):
    import os

    write(tmp_path, "big.toml", "# padding\n" * 200_000)
    os.mkfifo(tmp_path / "fifo")  # reading it would block for ever
    child = write(tmp_path, "child.toml", f'extends = "{base}"\nmodel = "plain20"\n')
    with pytest.raises(ZooError, match=message):
        load_recipe(child)


def test_a_long_extends_chain_is_refused(tmp_path):
    write(tmp_path, "r0.toml", 'model = "plain20"\n')
    for number in range(1, 1200):
        write(tmp_path, f"r{number}.toml", f'extends = "r{number - 1}.toml"\n')
    with pytest.raises(ZooError, match=r"r1199.toml: extends goes more than 16 files deep"):
        load_recipe(tmp_path / "r1199.toml")
    assert load_recipe(tmp_path / "r15.toml").network_spec().name  # 16 files are fine


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 50_000 + "]" * 50_000,
        "x = " + "{a = " * 5_000 + "1" + "}" * 5_000,
        "[" + ".".join(["a"] * 10_000) + "]\nb = 1\n",
        "[" + ".".join(["a"] * 40) + "]\n",
    ],
)
def test_deeply_nested_toml_is_one_error(tmp_path, text):
    with pytest.raises(ZooError, match=r"nested (too deeply|more than 32 deep)"):
        load_recipe(write(tmp_path, "deep.toml", text))


def test_a_deeply_nested_set_is_refused(tmp_path):
    path = write(tmp_path, "a.toml", 'model = "resnet20_v1"\n')
    with pytest.raises(ZooError, match="nested more than 32 deep"):
        load_recipe(path, [".".join(["a"] * 10_000) + "=1"])
    with pytest.raises(ZooError, match=r"data\.augment: Input should be a valid list"):
        load_recipe(path, ["data.augment=" + "[" * 50_000 + "]" * 50_000])


def test_recipes_are_listed_in_natural_order():
    from zoo.recipe import find_recipes

    names = [recipe.name for recipe in find_recipes()]
    assert names.index("resnet20_v1") < names.index("resnet56_v1") < names.index("resnet110_v1")
