"""FastInferenceHook with the EMAHook of RTMDet's recipes: the test runs on
the averaged weights, folded like the model."""
import copy
from types import SimpleNamespace

import torch
import torch.nn as nn
from mmengine.hooks import EMAHook

from fasternet_mm.runtime.hooks import FastInferenceHook


def conv_bn_net():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
        nn.ReLU(), nn.Conv2d(8, 4, 1))
    net[1].running_mean.uniform_(-.1, .1)
    net[1].running_var.uniform_(.5, 1.5)
    return net.eval()


def test_deploy_folds_the_averaged_copy_so_ema_swaps_it_in_for_testing():
    model = conv_bn_net()
    ema = EMAHook(update_buffers=True)  # RTMDet's: ExpMomentumEMA, same swap
    runner = SimpleNamespace(model=model, hooks=[ema])
    ema.before_run(runner)
    with torch.no_grad():  # averaged weights that differ from the model's
        for p in ema.ema_model.module.parameters():
            p.add_(torch.randn_like(p) * .1)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        averaged = copy.deepcopy(ema.ema_model.module).eval()(x)
        trained = copy.deepcopy(model)(x)
    assert not torch.allclose(averaged, trained)

    FastInferenceHook(precision='fp32').before_test(runner)
    assert not any(
        isinstance(m, nn.BatchNorm2d) for net in (model, ema.ema_model.module)
        for m in net.modules())
    with torch.no_grad():
        ema.before_test_epoch(runner)  # swaps parameter by parameter
        torch.testing.assert_close(model(x), averaged, rtol=1e-4, atol=1e-5)
        ema.after_test_epoch(runner)
        torch.testing.assert_close(model(x), trained, rtol=1e-4, atol=1e-5)
