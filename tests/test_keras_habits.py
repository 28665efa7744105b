"""A Keras user's habits in a study file: batch norm's momentum in the study's convention (refused,
with the fix, when it only makes sense in the other), Keras and PyTorch spellings of parameters,
and a mistake in [defaults] reported once, at its own line."""

from __future__ import annotations

import pytest
import torch

from reglab.config import parse_study, study_from_dict
from reglab.errors import ConfigError
from reglab.techniques.hooks import Slot
from reglab.techniques.registry import lookup


def study(body: str, keras: bool = True) -> str:
    return f"keras_compat = {'true' if keras else 'false'}\n" + body


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_study(text)
    return [line.strip()[2:] for line in str(caught.value).splitlines()[1:]]


def batch_norm_layer(choice, width: int) -> torch.nn.Module:
    """The layer batch norm puts in a hidden dense block (its place under the technique contract)."""
    hooks = lookup("layer", "batch_norm").build(dict(choice.params))
    return hooks.layer(Slot("dense", "pre_activation", 0, width, 1))


def running_mean_after_one_batch(choice, x: torch.Tensor) -> torch.Tensor:
    module = batch_norm_layer(choice, x.shape[1])
    module.train()
    module(x)
    return module.running_mean


@pytest.mark.parametrize("keras, written, old_weight", [(True, 0.99, 0.99), (True, 0.9, 0.9),
                                                        (False, 0.1, 0.9), (False, 0.01, 0.99)])
def test_batch_norm_momentum_means_what_it_means_in_the_studys_convention(keras, written, old_weight):
    choice = parse_study(study(f'[[variants]]\nname = "a"\nbatch_norm = {{ momentum = {written} }}\n', keras)
                         ).variants[0].switch("batch_norm")
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    # Keras's definition: moving = moving * momentum + batch_mean * (1 - momentum), from 0.
    expected = (1 - old_weight) * x.mean(0)
    assert torch.allclose(running_mean_after_one_batch(choice, x), expected, atol=1e-6)


def test_the_resolved_study_reads_back_the_same_in_either_mode():
    for keras in (True, False):
        spec = parse_study(study('[[variants]]\nname = "a"\nbatch_norm = true\n', keras))
        assert study_from_dict(spec.to_dict()) == spec


def test_a_momentum_from_the_other_convention_is_refused_with_the_fix():
    keras = problems(study('[[variants]]\nname = "a"\nbatch_norm = { momentum = 0.1 }\n'))
    assert len(keras) == 1 and "batch_norm" in keras[0] and "(line 4)" in keras[0]
    assert "PyTorch's convention" in keras[0] and "momentum = 0.9" in keras[0] and 'convention = "pytorch"' in keras[0]
    torch_mode = problems(study('[[variants]]\nname = "a"\nbatch_norm = { momentum = 0.99 }\n', keras=False))
    assert "Keras's convention" in torch_mode[0] and "momentum = 0.01" in torch_mode[0]
    # Naming the convention keeps a PyTorch value in a Keras-compatible study.
    choice = parse_study(study('[[variants]]\nname = "a"\nbatch_norm = { momentum = 0.1, convention = "pytorch" }\n')
                         ).variants[0].switch("batch_norm")
    assert batch_norm_layer(choice, 3).momentum == pytest.approx(0.1)


def test_keras_and_pytorch_spellings_are_accepted_as_aliases():
    keras = parse_study(study(
        '[[variants]]\nname = "a"\noptimizer = { name = "adam", learning_rate = 0.002, beta_1 = 0.8, beta_2 = 0.99, '
        'epsilon = 1e-6 }\nearly_stopping = { patience = 2, restore_best_weights = false }\n'
        'batch_norm = { epsilon = 0.01 }\n'
        '[[variants]]\nname = "b"\noptimizer = { name = "rmsprop", alpha = 0.8 }\n')).variants
    ours = parse_study(study(
        '[[variants]]\nname = "a"\noptimizer = { name = "adam", lr = 0.002, beta1 = 0.8, beta2 = 0.99, eps = 1e-6 }\n'
        'early_stopping = { patience = 2, restore_best = false }\nbatch_norm = { eps = 0.01 }\n'
        '[[variants]]\nname = "b"\noptimizer = { name = "rmsprop", rho = 0.8 }\n')).variants
    assert keras == ours


def test_did_you_mean_knows_both_spellings_and_a_parameter_given_twice_is_refused():
    found = problems(study('[[variants]]\nname = "a"\noptimizer = { name = "adam", learnin_rate = 0.1 }\n'))
    assert "did you mean 'lr'? 'learning_rate' is accepted too" in found[0]
    found = problems(study('[[variants]]\nname = "a"\nearly_stopping = { restore_best_weight = true }\n'))
    assert "did you mean 'restore_best'? 'restore_best_weights' is accepted too" in found[0]
    found = problems(study('[[variants]]\nname = "a"\noptimizer = { name = "adam", lr = 0.1, learning_rate = 0.1 }\n'))
    assert "sets lr again" in found[0]


def test_a_mistake_in_defaults_is_reported_once_at_its_own_line():
    text = ('name = "s"\n[defaults]\nepochs = 3\noptimizer = { name = "adam", lr_rate = 0.1 }\nbatch_size = 0\n'
            + "".join(f'[[variants]]\nname = "v{i}"\n' for i in range(4)))
    found = problems(text)
    assert len(found) == 2, found
    assert found[0].startswith("defaults.optimizer.lr_rate (line 4)") and "did you mean 'lr'" in found[0]
    assert found[1].startswith("defaults.batch_size (line 5)")


def test_techniques_in_japanese_are_whole_at_80_columns_and_say_each_modes_momentum():
    import os
    import subprocess
    import sys

    from reglab.techniques import registry

    shown = subprocess.run([sys.executable, "-m", "reglab", "techniques", "--lang", "ja"], capture_output=True,
                           text=True, env={**os.environ, "COLUMNS": "80"}, timeout=120, check=True).stdout
    assert "…" not in shown
    cells = "".join(line.split("│")[3].strip() for line in shown.splitlines() if line.count("│") == 4)
    for technique in registry.switches().values():  # every description, folded but whole
        assert technique.summary_ja.replace(" ", "") in cells.replace(" ", ""), technique.name
    assert "Kerasの意味（0.99" in cells.replace(" ", "")


def test_summary_follows_the_dataset_a_run_would_use(tmp_path, monkeypatch):
    from reglab import lab
    from reglab.data import paths

    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / "empty-cache"))  # MNIST not cached
    study, _ = lab.load_study("regularization")
    assert lab.summary_dataset(study, offline=True) == ("digits", 64, None)
    name, inputs, note = lab.summary_dataset(study)
    assert (name, inputs) == ("mnist", 784) and "reglab summary --offline" in note
    assert lab.summary_dataset(study, "fashion-mnist", offline=True)[:2] == ("fashion-mnist", 784)
    rows = {name: rows for name, _, rows in lab.model_summaries(study, 64)}["dropout"]  # on digits
    assert [r.layer for r in rows][:3] == ["dense_1 (Dense)", "relu_1 (ReLU)", "dropout_1 (Dropout)"]
    assert rows[0].params == 64 * 256 + 256  # computed by hand
