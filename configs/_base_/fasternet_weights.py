# The official ImageNet-1K weights of FasterNet (the authors' release v1.0),
# one file per arch: the configs point their backbone's init_cfg at one
# (checkpoint=_base_.fasternet_weights.s) and mmengine downloads and caches
# it at the first training run (`__release`, a double underscore, stays out
# of the merged config). Offline, pass a local copy:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
__release = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'
fasternet_weights = dict(
    t0=__release + 'fasternet_t0-epoch.281-val_acc1.71.9180.pth',
    t1=__release + 'fasternet_t1-epoch.291-val_acc1.76.2180.pth',
    t2=__release + 'fasternet_t2-epoch.289-val_acc1.78.8860.pth',
    s=__release + 'fasternet_s-epoch.299-val_acc1.81.2840.pth',
    m=__release + 'fasternet_m-epoch.291-val_acc1.82.9620.pth',
    l=__release + 'fasternet_l-epoch.299-val_acc1.83.5060.pth',
)
