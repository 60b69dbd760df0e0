"""Our tools on an exported folder: ``tools/test.py CONFIG DIR`` and
``tools/image_demo.py IMG CONFIG DIR`` hand over here."""
from mmengine.config import Config

from ...errors import UserInputError
from .folder import load_meta


def test_deployed(cfg: Config, deploy_dir: str, **flags) -> None:
    """Make ``cfg`` test the exported model of ``deploy_dir``, in place.

    The folder must come from the same model config (its hash), checked
    before anything is built. ``flags`` are the test options that need the
    PyTorch model (``tta``, ``deploy``, ``fast``): any set is refused.
    """
    used = [f'--{k}' for k, v in flags.items() if v]
    if used:
        raise UserInputError(
            f'{" ".join(used)} change the PyTorch model; {deploy_dir!r} is '
            'an exported model (its precision was chosen at export)')
    meta = load_meta(deploy_dir, cfg)
    cfg.model = dict(
        type='DeployedModel',
        deploy_dir=deploy_dir,
        model=cfg.model.to_dict(),
        scope=cfg.default_scope)
    cfg.load_from = None
    return meta


def deployed_inferencer(cfg: Config,
                        deploy_dir: str,
                        device: str = 'cpu',
                        **flags):
    """MMDetection's ``DetInferencer`` on the exported model; ``flags`` as
    for :func:`test_deployed`."""
    from mmdet.apis import DetInferencer
    if device != 'cpu':
        raise UserInputError(
            f'{deploy_dir!r} runs on the CPU here (--device cpu)')
    meta = test_deployed(cfg, deploy_dir, **flags)
    inferencer = DetInferencer(model=cfg, device=device, show_progress=False)
    dataset_meta = dict(meta['dataset_meta'])  # JSON made tuples lists
    if 'palette' in dataset_meta:
        dataset_meta['palette'] = [tuple(c) for c in dataset_meta['palette']]
    inferencer.model.dataset_meta = dataset_meta
    inferencer.visualizer.dataset_meta = dataset_meta
    return inferencer
