# fasternet_mm's run-time layer, named once for every config: importing
# fasternet_mm.runtime registers FasterNet (the model layer) and the run
# hooks, and routes checkpoint loading through the safe loader. Each family
# config adds the hooks to its recipe's own:
#   custom_hooks = [*_base_.custom_hooks, *_base_.fasternet_hooks]
# (or custom_hooks = _base_.fasternet_hooks where the recipe has none). They
# act under any tool, MMDetection's and MMSegmentation's own included:
# crash-safe checkpoints, no checkpoint that does not fit the model, a stop
# on a NaN loss, data and work-dir checks before the run
# (fasternet_mm/runtime/hooks).
custom_imports = dict(
    imports=['fasternet_mm.runtime'], allow_failed_imports=False)
fasternet_hooks = [
    dict(type='AtomicSaveHook'),
    dict(type='CheckpointFitHook'),
    dict(type='FiniteLossHook'),
    dict(type='SetupCheckHook'),
]
