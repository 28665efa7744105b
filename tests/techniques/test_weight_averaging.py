"""SWA and EMA against torch.optim.swa_utils: AveragedModel's equal average and update_bn's
batch-norm statistics, get_ema_multi_avg_fn's moving average; their state through a checkpoint;
and the engine evaluating and storing the average."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from reglab.config import parse_study
from reglab.engine.core import Techniques
from reglab.techniques.hooks import Context, Weights
from reglab.techniques.weight_averaging import EMA, SWA


def network():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(40, 6, generator=g) * 2 + 1, torch.randint(0, 3, (40,), generator=g)


def train_steps(model, optimizer, x, y, steps, after=lambda: None):
    model.train()
    for step in range(steps):
        rows = slice(8 * (step % 5), 8 * (step % 5) + 8)
        optimizer.zero_grad()
        F.cross_entropy(model(x[rows]), y[rows]).backward()
        optimizer.step()
        after()


def test_ema_is_swa_utils_exponential_average():
    x, y = data()
    model = network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    reference = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    ema = EMA({"momentum": 0.9})
    weights = Weights([], list(model.parameters()))
    ctx = Context((2, 3), 3)
    train_steps(model, optimizer, x, y, 7, lambda: (reference.update_parameters(model), ema.after_step(weights, ctx)))
    trained = [p.detach().clone() for p in model.parameters()]
    assert ema.evaluation_weights(model, x, ctx)
    for mine, theirs in zip(model.parameters(), reference.module.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)
    assert not all(torch.equal(a, b) for a, b in zip(trained, model.parameters()))  # the average is not the last


def test_swa_is_averaged_model_with_update_bn_and_counts_each_epoch_once():
    x, y = data()
    model = network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    reference = AveragedModel(model)
    swa = SWA({"start": 1, "batch_size": 16})
    for epoch in range(4):
        train_steps(model, optimizer, x, y, 5)
        if epoch >= 1:
            reference.update_parameters(model)
        trained = {k: v.clone() for k, v in model.state_dict().items()}
        assert swa.evaluation_weights(model, x, Context((2, 3), 3, epoch=epoch)) == (epoch >= 1)
        if epoch < 3:
            model.load_state_dict(trained)  # what the engine does after evaluating
    # The run's end asks again for the last epoch: it is not averaged twice.
    swa.evaluation_weights(model, x, Context((2, 3), 3, epoch=3))
    update_bn([x[i:i + 16] for i in range(0, 40, 16)], reference)
    for mine, theirs in zip(model.state_dict().values(), reference.module.state_dict().values()):
        torch.testing.assert_close(mine.float(), theirs.float(), rtol=1e-5, atol=1e-6)
    assert swa.averaged == 3


def test_the_average_survives_a_checkpoint():
    x, y = data()
    model = network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    ema, weights, ctx = EMA({"momentum": 0.5}), Weights([], list(model.parameters())), Context((2, 3), 3)
    train_steps(model, optimizer, x, y, 3, lambda: ema.after_step(weights, ctx))
    buffer = io.BytesIO()
    torch.save(ema.state_dict(), buffer)
    resumed = EMA({"momentum": 0.5})
    resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    train_steps(model, optimizer, x, y, 2, lambda: (ema.after_step(weights, ctx), resumed.after_step(weights, ctx)))
    assert all(torch.equal(a, b) for a, b in zip(ema.average, resumed.average))


def test_one_average_at_a_time():
    with pytest.raises(Exception, match="ema and swa both replace the evaluation weights"):
        Techniques(parse_study('[[variants]]\nname = "a"\nswa = 0\nema = 0.9\n').variants[0], 0.01)


def test_the_reference_loop_tests_and_stores_the_average(blobs):
    from reglab.engine.reference import train_run

    d = blobs(seed=2, n_train=96, n_val=32, n_test=32, spread=0.1, images=True)
    variant = parse_study('[[variants]]\nname = "a"\nhidden = [8]\nepochs = 3\nbatch_size = 32\nswa = 0\n'
                          'optimizer = { name = "sgd", lr = 0.5 }\n').variants[0]
    plain = parse_study('[[variants]]\nname = "a"\nhidden = [8]\nepochs = 3\nbatch_size = 32\n'
                        'optimizer = { name = "sgd", lr = 0.5 }\n').variants[0]
    averaged, last = train_run(d, variant, seed=0), train_run(d, plain, seed=0)
    # Same training (SWA changes no step); the stored kernel is the mean of the three epochs' ends,
    # not the last one: differs from the plain run's, and the first epoch's validation is the same.
    assert averaged.record.history[0].val_loss == pytest.approx(last.record.history[0].val_loss)
    assert averaged.record.history[-1].train_loss == pytest.approx(last.record.history[-1].train_loss)
    key = next(k for k in averaged.arrays.weights if k.endswith("weight"))
    assert not (averaged.arrays.weights[key] == last.arrays.weights[key]).all()
