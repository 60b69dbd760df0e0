"""Convert a training checkpoint into a deploy-mode one (norms folded).

Like MMPretrain's ``reparameterize_model.py``: builds the config's model,
loads the checkpoint, calls ``backbone.switch_to_deploy()`` and saves the
state dict. Test with the deployed checkpoint by building the backbone in
its deploy form::

    python tools/model_converters/fasternet_deploy.py \\
        configs/mask_rcnn_fasternet_s.py epoch_12.pth epoch_12_deploy.pth
    python tools/test.py configs/mask_rcnn_fasternet_s.py \\
        epoch_12_deploy.pth --cfg-options model.backbone.deploy=True
"""
import argparse
import importlib

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint


def convert(config: str, checkpoint: str, out: str) -> None:
    """Save ``checkpoint`` with the config's FasterNet backbone deployed."""
    import fasternet_mm  # noqa: F401  (registers FasterNet)
    cfg = Config.fromfile(config)
    cfg.model.backbone.pop('init_cfg', None)
    cfg.model.pop('init_cfg', None)
    scope = cfg.get('default_scope', 'mmdet')
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry')
    model = registry.MODELS.build(cfg.model)
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    if not hasattr(model.backbone, 'switch_to_deploy'):
        from fasternet_mm.errors import ConfigValueError
        raise ConfigValueError(
            f'The backbone of {config} has no deploy mode')
    model.backbone.switch_to_deploy()
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    save_checkpoint(
        dict(state_dict=model.state_dict(), meta=meta), out)
    print(f'saved the deploy-mode checkpoint to {out}; load it with '
          'model.backbone.deploy=True')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fold the norms of a FasterNet checkpoint (deploy mode)')
    parser.add_argument('config', help='config file of the checkpoint')
    parser.add_argument('checkpoint', help='training-form checkpoint')
    parser.add_argument('out', help='deploy-form checkpoint to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with torch.no_grad():
        convert(args.config, args.checkpoint, args.out)


if __name__ == '__main__':
    from fasternet_mm.errors import run_tool
    run_tool(main)
