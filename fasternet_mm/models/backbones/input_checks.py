"""Checks of what FasterNet's ``forward`` receives (a forward pre-hook, so
that the network's own code stays the paper's)."""
import torch

from ...errors import DataError

MIN_INPUT_SIZE = 32  # the 4x4 stem and three 2x2 merging layers


def check_input_size(module, args) -> None:
    """Refuse inputs that the stride-32 stages would reduce to nothing."""
    if torch.jit.is_tracing():  # export: sizes are symbolic there
        return
    x = args[0] if args else None
    if not torch.is_tensor(x) or x.dim() != 4:
        return
    h, w = x.shape[-2:]
    if h < MIN_INPUT_SIZE or w < MIN_INPUT_SIZE:
        raise DataError(
            f'FasterNet needs inputs of at least {MIN_INPUT_SIZE}x'
            f'{MIN_INPUT_SIZE} pixels (its last stage has stride 32), got '
            f'{h}x{w}; resize or pad the images (e.g. pad_size_divisor=32)')
