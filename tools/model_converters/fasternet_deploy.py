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

import torch
from mmengine.runner import load_checkpoint, save_checkpoint

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import build_model_from_cfg


def convert(config: str, checkpoint: str, out: str) -> None:
    """Save ``checkpoint`` with the config's FasterNet backbone deployed."""
    model = build_model_from_cfg(config)
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    if not hasattr(model.backbone, 'switch_to_deploy'):
        raise UserInputError(
            f'the backbone of {config} ({type(model.backbone).__name__}) has '
            'no deploy form to build from a config; fold any model at test '
            'time instead: tools/test.py --deploy')
    model.backbone.switch_to_deploy()
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    save_checkpoint(dict(state_dict=model.state_dict(), meta=meta), out)
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
    run_tool(main)
