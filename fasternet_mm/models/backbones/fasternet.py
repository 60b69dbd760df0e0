"""FasterNet backbone for MMDetection 3.x and MMSegmentation 1.x.

Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks
(Chen et al., CVPR 2023, https://arxiv.org/abs/2303.03667), after the
authors' ``models/fasternet.py`` (https://github.com/JierunChen/FasterNet)
in its dense-prediction mode: four stages at strides 4, 8, 16 and 32, each
output through its own norm layer.

The module layout follows timm's ``fasternet.py`` (merging layers live in
the next stage as ``stages.{i}.downsample``), so timm / Hugging Face weights
load as they are and the official release is converted by
:func:`fasternet_mm.models.backbones.ckpt_convert.convert_fasternet_checkpoint`.
"""
import inspect
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer, fuse_conv_bn
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from mmengine.registry import MODELS
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

from ...errors import ConfigKeyError, ConfigTypeError, ConfigValueError
from .ckpt_convert import convert_fasternet_checkpoint
from .input_checks import check_input_size


class PartialConv(nn.Module):
    """PConv: a 3x3 conv over the first ``dim // n_div`` channels only.

    The other channels pass through untouched. Training, autograd and
    tracing (ONNX, FLOP counting) use split/concat; eager inference without
    autograd uses the paper's in-place "slicing" form on a copy of the input.
    Both give identical results.
    """

    def __init__(self, dim: int, n_div: int = 4):
        super().__init__()
        self.dim_conv = dim // n_div
        self.dim_untouched = dim - self.dim_conv
        self.partial_conv3 = nn.Conv2d(
            self.dim_conv, self.dim_conv, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.training or torch.is_grad_enabled()
                or torch.jit.is_tracing()):
            return self.forward_split_cat(x)
        return self.forward_slicing(x)

    def forward_split_cat(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = torch.split(x, [self.dim_conv, self.dim_untouched], dim=1)
        return torch.cat((self.partial_conv3(x1), x2), dim=1)

    def forward_slicing(self, x: torch.Tensor) -> torch.Tensor:
        """Inference only: autograd rejects the in-place write."""
        x = x.clone()
        x[:, :self.dim_conv] = self.partial_conv3(x[:, :self.dim_conv])
        return x


class FasterNetBlock(nn.Module):
    """PConv -> Conv1x1 (expand) -> norm -> act -> Conv1x1, plus a residual.

    ``deploy=True`` builds the inference form, in which the norm is folded
    into the first 1x1 conv (see :meth:`switch_to_deploy`).
    """

    def __init__(self,
                 dim: int,
                 n_div: int = 4,
                 mlp_ratio: float = 2.,
                 drop_path: float = 0.,
                 act_cfg: dict = dict(type='ReLU'),
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 deploy: bool = False):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.with_cp = with_cp
        self.spatial_mixing = PartialConv(dim, n_div)
        norm = nn.Identity() if deploy else build_norm_layer(norm_cfg,
                                                             hidden)[1]
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, bias=deploy), norm,
            build_activation_layer(act_cfg),
            nn.Conv2d(hidden, dim, 1, bias=False))
        self.drop_path = DropPath(
            drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            return x + self.drop_path(self.mlp(self.spatial_mixing(x)))

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)


class PatchEmbed(nn.Module):
    """Stem: non-overlapping ``patch_size`` conv (no bias) + norm."""

    def __init__(self,
                 in_channels: int,
                 embed_dim: int,
                 patch_size: int = 4,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(
            in_channels, embed_dim, patch_size, patch_size, bias=deploy)
        self.norm = nn.Identity() if deploy else build_norm_layer(
            norm_cfg, embed_dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class PatchMerging(nn.Module):
    """Merging layer: 2x2 stride-2 conv (no bias, width x2) + norm."""

    def __init__(self,
                 dim: int,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False):
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, 2, 2, bias=deploy)
        self.norm = nn.Identity() if deploy else build_norm_layer(
            norm_cfg, 2 * dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x))


class FasterNetStage(nn.Module):
    """An optional merging layer (stride 2, width x2) and FasterNet blocks."""

    def __init__(self, downsample: Optional[nn.Module],
                 blocks: Sequence[nn.Module]):
        super().__init__()
        self.downsample = downsample if downsample is not None else \
            nn.Identity()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


@MODELS.register_module()
class FasterNet(BaseModule):
    """FasterNet backbone returning multi-scale features.

    Args:
        arch (str | dict): ``'t0'``, ``'t1'``, ``'t2'``, ``'s'``, ``'m'``,
            ``'l'`` or a dict with ``embed_dim``, ``depths``, ``act_cfg`` and
            optionally ``mlp_ratio``, ``n_div``. Defaults to ``'s'``.
        in_channels (int): Input channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0-3, strides 4-32) to output,
            each through its own norm layer. Defaults to (0, 1, 2, 3).
        frozen_stages (int): As in ResNet: -1 freezes nothing, 0 the stem,
            ``i`` the stem and stages 1..i (and their output norms).
        norm_eval (bool): Keep norm layers in eval mode (frozen statistics)
            during training. Defaults to False.
        norm_cfg (dict): Norm layers, e.g. ``dict(type='SyncBN')``.
        act_cfg (dict, optional): Overrides the arch's activation.
        drop_path_rate (float): Stochastic depth, rising linearly over all
            blocks from 0 to this value. Defaults to 0.
        with_cp (bool): Gradient checkpointing of each block, to save memory.
        deploy (bool): Build the inference form (norms folded into convs),
            e.g. to load a checkpoint saved after :meth:`switch_to_deploy`.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)``
            loads official, timm / Hugging Face or whole-detector checkpoints.
    """
    # Activation per preset follows the paper: GELU for T0/T1, ReLU above.
    # yapf: disable
    arch_settings = {
        't0': dict(embed_dim=40, depths=(1, 2, 8, 2), act_cfg=dict(type='GELU')),  # noqa: E501
        't1': dict(embed_dim=64, depths=(1, 2, 8, 2), act_cfg=dict(type='GELU')),  # noqa: E501
        't2': dict(embed_dim=96, depths=(1, 2, 8, 2), act_cfg=dict(type='ReLU')),  # noqa: E501
        's': dict(embed_dim=128, depths=(1, 2, 13, 2), act_cfg=dict(type='ReLU')),  # noqa: E501
        'm': dict(embed_dim=144, depths=(3, 4, 18, 3), act_cfg=dict(type='ReLU')),  # noqa: E501
        'l': dict(embed_dim=192, depths=(3, 4, 18, 3), act_cfg=dict(type='ReLU')),  # noqa: E501
    }
    # yapf: enable
    arch_defaults = dict(mlp_ratio=2., n_div=4)
    num_stages = 4

    def __init__(self,
                 arch='s',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = None,
                 drop_path_rate: float = 0.,
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        if kwargs:
            raise ConfigTypeError(self._unexpected_kwargs_message(kwargs))
        if init_cfg is not None and not isinstance(init_cfg, dict):
            raise ConfigTypeError(
                f'FasterNet takes one init_cfg dict, got a '
                f'{type(init_cfg).__name__}: {init_cfg!r}; use e.g. '
                "init_cfg=dict(type='Pretrained', checkpoint=...), or None "
                "for the paper's initialisation")
        super().__init__(init_cfg=init_cfg)
        self.arch = self._parse_arch(arch)
        if act_cfg is not None:
            self.arch['act_cfg'] = act_cfg
        self.out_indices = self._check_out_indices(out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ConfigValueError(
                f'frozen_stages must be in [-1, {self.num_stages}] (-1 '
                f'freezes nothing, 0 the stem, i the stem and stages 1..i), '
                f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        if not 0 <= drop_path_rate < 1:
            raise ConfigValueError(
                f'drop_path_rate must be in [0, 1) (the probability of '
                f'dropping the last block; the paper uses 0 to 0.3), got '
                f'{drop_path_rate}')
        self.norm_eval = norm_eval
        self.norm_cfg = norm_cfg
        self.deploy = deploy

        embed_dim, depths = self.arch['embed_dim'], self.arch['depths']
        self.embed_dims = [embed_dim * 2**i for i in range(self.num_stages)]
        self.patch_embed = PatchEmbed(
            in_channels, embed_dim, 4, norm_cfg, deploy=deploy)
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages = []
        for i, (dim, depth) in enumerate(zip(self.embed_dims, depths)):
            downsample = None if i == 0 else PatchMerging(
                dim // 2, norm_cfg, deploy=deploy)
            blocks = [
                FasterNetBlock(
                    dim,
                    n_div=self.arch['n_div'],
                    mlp_ratio=self.arch['mlp_ratio'],
                    drop_path=dpr[sum(depths[:i]) + j],
                    act_cfg=self.arch['act_cfg'],
                    norm_cfg=norm_cfg,
                    with_cp=with_cp,
                    deploy=deploy) for j in range(depth)
            ]
            stages.append(FasterNetStage(downsample, blocks))
        self.stages = nn.ModuleList(stages)
        for i in self.out_indices:
            self.add_module(f'norm{i}',
                            build_norm_layer(norm_cfg, self.embed_dims[i])[1])
        self._freeze_stages()
        self.register_forward_pre_hook(check_input_size)
        if deploy:  # inference only: the output norms must not update
            self.eval()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each output, e.g. for the neck's ``in_channels``."""
        return tuple(self.embed_dims[i] for i in self.out_indices)

    def _parse_arch(self, arch) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_settings:
                raise ConfigKeyError(
                    f'Unknown FasterNet arch {arch!r}; valid archs are '
                    f'{list(self.arch_settings)} or a dict with keys '
                    f"'embed_dim', 'depths', 'act_cfg' (optional: "
                    f"'mlp_ratio', 'n_div')")
            return {**self.arch_defaults, **self.arch_settings[arch.lower()]}
        if not isinstance(arch, dict):
            raise ConfigTypeError(
                f'arch must be one of {list(self.arch_settings)} or a dict, '
                f'got {type(arch).__name__}')
        required = {'embed_dim', 'depths', 'act_cfg'}
        valid = required | set(self.arch_defaults)
        if set(arch) - valid:
            raise ConfigKeyError(
                f'Unknown key(s) {sorted(set(arch) - valid)} in the FasterNet '
                f'arch dict; valid keys are {sorted(valid)}')
        if required - set(arch):
            raise ConfigKeyError(
                f'The FasterNet arch dict lacks {sorted(required - set(arch))}'
                f'; it needs {sorted(required)}')
        arch = {**self.arch_defaults, **arch}
        self._check_arch_values(arch)
        return arch

    def _check_arch_values(self, arch: dict) -> None:
        """Sizes that build a network (torch would fail on zero channels,
        or build an empty stage for a negative depth)."""

        def positive_int(v):
            return isinstance(v, int) and not isinstance(v, bool) and v > 0

        depths, dim = arch['depths'], arch['embed_dim']
        valid_depths = isinstance(
            depths, (list, tuple)) and len(depths) == self.num_stages and all(
                map(positive_int, depths))
        if not valid_depths:
            raise ConfigValueError(
                f'arch depths must be {self.num_stages} positive integers '
                f'(blocks per stage), got {depths!r}')
        if not positive_int(dim):
            raise ConfigValueError(
                f'arch embed_dim must be a positive integer (the channels of '
                f'stage 1), got {dim!r}')
        n_div = arch['n_div']
        if not positive_int(n_div) or n_div > dim:
            raise ConfigValueError(
                f'arch n_div must be an integer in [1, embed_dim={dim}] '
                '(PConv convolves embed_dim / n_div channels; the paper uses '
                f'4), got {n_div!r}')
        ratio = arch['mlp_ratio']
        if isinstance(ratio, bool) or not isinstance(ratio,
                                                     (int, float)) or int(
                                                         dim * ratio) < 1:
            raise ConfigValueError(
                f'arch mlp_ratio must be a number with embed_dim * mlp_ratio '
                f'>= 1 (the MLP\'s hidden width; the paper uses 2), got '
                f'{ratio!r}')

    def _check_out_indices(self, out_indices) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if (not out_indices or len(set(out_indices)) != len(out_indices)
                or any(not 0 <= i < self.num_stages for i in out_indices)):
            raise ConfigValueError(
                f'out_indices must be distinct stage indices in '
                f'{list(range(self.num_stages))} (strides 4, 8, 16, 32), got '
                f'{out_indices}')
        return tuple(sorted(out_indices))

    def _unexpected_kwargs_message(self, kwargs: Dict) -> str:
        params = inspect.signature(FasterNet.__init__).parameters.values()
        valid = [p.name for p in params
                 if p.kind is p.POSITIONAL_OR_KEYWORD][1:]  # without self
        msg = (f'FasterNet got unexpected argument(s) {sorted(kwargs)}; valid '
               f'arguments are {valid}.')
        resnet_keys = {
            'depth', 'num_stages', 'strides', 'dilations', 'style',
            'deep_stem', 'avg_down', 'dcn', 'stage_with_dcn', 'plugins',
            'zero_init_residual', 'pretrained', 'stem_channels',
            'base_channels', 'contract_dilation', 'conv_cfg'
        }
        if set(kwargs) & resnet_keys:
            msg += (' These look inherited from a ResNet base config: replace '
                    "the backbone with dict(_delete_=True, type='FasterNet', "
                    '...).')
        return msg

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            self.patch_embed.eval()
            for param in self.patch_embed.parameters():
                param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            frozen = [self.stages[i - 1]]
            if (i - 1) in self.out_indices:
                frozen.append(getattr(self, f'norm{i - 1}'))
            for module in frozen:
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True):
        """Also keep frozen stages and, with ``norm_eval``, norms in eval."""
        if mode and self.deploy:
            raise ConfigValueError(
                'This FasterNet is in deploy mode (norms folded into convs) '
                'and cannot be trained; build it with deploy=False '
                '(model.backbone.deploy=False) and load the training-form '
                'checkpoint instead.')
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def switch_to_deploy(self):
        """Fold every norm that follows a conv into it, in place.

        The outputs stay equal to the training form's eval outputs (up to
        float32 round-off); the model then runs in eval mode only.
        """
        if self.deploy:
            return self
        self.eval()
        # The output norms follow a residual add, not a conv: they stay.
        with torch.no_grad():
            fuse_conv_bn(self)
        for p in self.parameters():
            p.requires_grad = False
        self.deploy = True
        return self

    def init_weights(self):
        """Load ``Pretrained`` checkpoints through the layout converter.

        Without ``init_cfg``, convs get truncated-normal weights (std 0.02)
        as in the paper; other ``init_cfg`` types go to mmengine.
        """
        if self.init_cfg is None:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    trunc_normal_init(m, std=.02, bias=0.)
            return
        if self.init_cfg.get('type') != 'Pretrained':
            super().init_weights()
            return
        if 'checkpoint' not in self.init_cfg:
            raise ConfigKeyError(
                "init_cfg=dict(type='Pretrained') needs a 'checkpoint' (a "
                'local path or URL) for FasterNet')
        self.load_pretrained(self.init_cfg['checkpoint'],
                             self.init_cfg.get('prefix'))

    def load_pretrained(self, checkpoint: str, prefix: Optional[str] = None):
        """Load an official, timm or whole-model checkpoint and log a report.

        Raises:
            ValueError: A key fits no parameter, a shape differs, or a trunk
                parameter is missing from the checkpoint.
        """
        if self.deploy:
            raise ConfigValueError(
                'Load pretrained weights into the training form '
                '(deploy=False), then call switch_to_deploy()')
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        state_dict, report = convert_fasternet_checkpoint(
            ckpt, self.state_dict(), prefix=prefix, source=str(checkpoint))
        with torch.no_grad():  # names and shapes checked: converted once
            for name, tensor in self.state_dict(keep_vars=True).items():
                if name in state_dict:
                    tensor.copy_(state_dict[name])
        print_log(report, logger='current')

    def convert_state_dict(self, state_dict: dict, prefix: str = '') -> str:
        """Convert this backbone's keys under ``prefix`` in place.

        Official-release and timm keys become this backbone's; names and
        shapes are checked, so a backbone key that would stay unloaded (or a
        trunk tensor that is missing) is an error, never a random weight.

        Returns:
            str: The loading report, or ``''`` if nothing had to change.
        """
        keys = [k for k in state_dict if k.startswith(prefix)]
        if not keys:
            return ''
        own = {k[len(prefix):]: state_dict[k] for k in keys}
        converted, report = convert_fasternet_checkpoint(
            own,
            self.state_dict(),
            prefix='',
            source=f'checkpoint keys under {prefix!r}')
        if converted.keys() == own.keys():
            return ''
        for k in keys:
            del state_dict[k]
        state_dict.update((prefix + k, v) for k, v in converted.items())
        return report

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Whole-model checkpoints (load_from, tools/test.py, inferencers)
        # come here with the backbone's keys under ``prefix``.
        report = self.convert_state_dict(state_dict, prefix)
        if report:
            print_log(report, logger='current')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
