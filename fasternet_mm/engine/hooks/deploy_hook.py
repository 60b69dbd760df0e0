"""Hooks that switch FasterNet to its deploy form for evaluation."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...errors import UserInputError


@HOOKS.register_module()
class FasterNetDeployHook(Hook):
    """Fold the backbone's norms into its convs before testing.

    Add ``custom_hooks = [dict(type='FasterNetDeployHook')]`` to a config
    (or ``tools/test.py --deploy``); it acts after the checkpoint is loaded.
    Only for test runs: a deployed backbone refuses to train.
    """

    priority = 'VERY_LOW'

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not hasattr(model, 'backbone'):  # test-time augmentation wrapper
            model = getattr(model, 'module', model)
        backbone = getattr(model, 'backbone', None)
        if not hasattr(backbone, 'switch_to_deploy'):
            raise UserInputError(
                f'deploy mode needs a backbone with switch_to_deploy() '
                f'(FasterNet); this model has {type(backbone).__name__}')
        backbone.switch_to_deploy()
        runner.logger.info(
            f'{type(backbone).__name__} switched to deploy mode')
