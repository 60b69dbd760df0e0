"""Convert a training checkpoint into a deploy-mode one (norms folded).

Like MMPretrain's ``reparameterize_model.py``: builds the config's model,
loads the checkpoint (which must fit the model exactly), calls
``backbone.switch_to_deploy()`` and saves the state dict to a new file,
atomically. Test with the deployed checkpoint by building the backbone in
its deploy form::

    python tools/model_converters/fasternet_deploy.py \\
        configs/mask_rcnn_fasternet_s.py epoch_12.pth epoch_12_deploy.pth
    python tools/test.py configs/mask_rcnn_fasternet_s.py \\
        epoch_12_deploy.pth --cfg-options model.backbone.deploy=True
"""
import argparse
import io
import re

import torch
from mmengine.runner import load_state_dict, weights_to_cpu
from mmengine.runner.checkpoint import CheckpointLoader

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import build_model_from_cfg
from fasternet_mm.runtime.checkpoint import check_fit, state_dict_of
from fasternet_mm.runtime.cli import check_output, existing_file, file_or_url
from fasternet_mm.runtime.fileio import atomic_write


def convert(config: str, checkpoint: str, out: str) -> None:
    """Save ``checkpoint`` with the config's FasterNet backbone deployed."""
    check_output(out, checkpoint, config)
    model = build_model_from_cfg(config)
    if not hasattr(model.backbone, 'switch_to_deploy'):
        raise UserInputError(
            f'the backbone of {config} ({type(model.backbone).__name__}) has '
            'no deploy form to build from a config; fold any model at test '
            'time instead: tools/test.py --deploy')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state_dict = state_dict_of(ckpt, checkpoint)
    check_fit(model, state_dict, checkpoint, exact=True)
    load_state_dict(
        model, {
            re.sub(r'^module\.', '', k): v
            for k, v in state_dict.items()
        },
        strict=True)
    model.backbone.switch_to_deploy()
    meta = ckpt.get('meta', {})
    buffer = io.BytesIO()
    torch.save(
        dict(state_dict=weights_to_cpu(model.state_dict()), meta=meta), buffer)
    atomic_write(out, buffer.getvalue())
    print(f'saved the deploy-mode checkpoint to {out}; load it with '
          'model.backbone.deploy=True')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fold the norms of a FasterNet checkpoint (deploy mode)')
    parser.add_argument(
        'config', type=existing_file, help='config file of the checkpoint')
    parser.add_argument(
        'checkpoint', type=file_or_url, help='training-form checkpoint')
    parser.add_argument(
        'out', help='deploy-form checkpoint to write (a new file)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with torch.no_grad():
        convert(args.config, args.checkpoint, args.out)


if __name__ == '__main__':
    run_tool(main)
