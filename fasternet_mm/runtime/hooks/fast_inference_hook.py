"""Hook that optimizes the model for inference before testing."""
from mmengine.hooks import EMAHook, Hook
from mmengine.registry import HOOKS

from ..inference import optimize_for_inference


@HOOKS.register_module()
class FastInferenceHook(Hook):
    """Run :func:`~fasternet_mm.runtime.optimize_for_inference` before testing.

    Acts after the checkpoint is loaded, on each process of a distributed
    run and through test-time augmentation wrappers. ``precision='fp32'``
    (``tools/test.py --deploy``) only folds norms and uses channels_last
    (same results within float32 round-off); ``'auto'`` (``--fast``) adds
    reduced precision where the hardware has it. Test runs only: a folded
    model cannot be trained.

    With an ``EMAHook`` (RTMDet's recipes), the averaged copy of the model
    is folded the same way: the hook swaps the two models' parameters one
    by one before and after testing, so they must keep the same layout.

    Args:
        precision (str): ``'auto'``, ``'fp32'``, ``'bf16'`` or ``'fp16'``.
    """

    priority = 'VERY_LOW'

    def __init__(self, precision: str = 'auto'):
        self.precision = precision

    def before_test(self, runner) -> None:
        optimize_for_inference(runner.model, self.precision)
        for hook in runner.hooks:
            if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model'):
                optimize_for_inference(hook.ema_model.module, self.precision)
