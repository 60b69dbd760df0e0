"""An exported folder as an MMDetection / MMSegmentation model.

:class:`DeployedModel` runs the folder's network on its backend and returns
the DataSamples the PyTorch model returns (boxes and masks in the original
image, class maps at the image size), so the config's evaluator, the
visualisation hooks and the inferencers work unchanged. Its data
preprocessor is the config's, as in mmdeploy's backend models.
"""
import math
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import InstanceData, PixelData

from .backends import Runner
from .configs import check_input
from .folder import load_meta
from .paste import paste_masks


@MODELS.register_module()
class DeployedModel(BaseModel):
    """A model of ``deploy_dir`` exported from the model config ``model``.

    Args:
        deploy_dir: a folder written by ``tools/deployment/deploy.py``.
        model: the config's ``model`` (its data preprocessor and test
            settings are used).
        scope: ``'mmdet'`` or ``'mmseg'``.
        data_preprocessor: instead of the model's (the Runner passes a
            config's top-level ``data_preprocessor``).
        threads: CPU threads of the backend (default: torch's).
    """

    def __init__(self,
                 deploy_dir: str,
                 model: dict,
                 scope: str,
                 data_preprocessor: Optional[dict] = None,
                 threads: Optional[int] = None):
        model = ConfigDict(model)
        preprocessor = dict(
            data_preprocessor or model.get('data_preprocessor') or {})
        preprocessor.setdefault(
            'type', 'DetDataPreprocessor'
            if scope == 'mmdet' else 'SegDataPreProcessor')
        with DefaultScope.overwrite_default_scope(scope):  # its registry
            super().__init__(data_preprocessor=preprocessor)
        self.meta = load_meta(deploy_dir)
        self.scope, self.model_cfg = scope, model
        self.runner = Runner(deploy_dir, self.meta, threads)

    def forward(self, inputs: torch.Tensor, data_samples=None, mode='predict'):
        if mode != 'predict':
            raise ValueError(f'a deployed model predicts only, not {mode!r}')
        check_input(inputs.shape, self.meta)
        outputs = self.runner.run(inputs.numpy())
        if self.scope == 'mmseg':
            return self._segmentation(outputs[0], data_samples)
        return self._detection(outputs, data_samples)

    def _mask_threshold(self) -> float:
        test_cfg = self.model_cfg.get('test_cfg') or {}
        rcnn = test_cfg.get('rcnn', test_cfg)
        return rcnn.get('mask_thr_binary', 0.5)

    def _detection(self, outputs: List[np.ndarray], data_samples):
        dets, labels = outputs[:2]
        masks = outputs[2] if len(outputs) > 2 else None
        for i, sample in enumerate(data_samples):
            keep = dets[i, :, 4] > 0  # mmdeploy pads with zero-score rows
            bboxes = dets[i, keep, :4].copy()
            scale = np.asarray(
                sample.metainfo.get('scale_factor', (1, 1)),
                np.float32).reshape(-1)
            bboxes /= np.tile(scale, 2)[:4]
            ori_h, ori_w = sample.metainfo['ori_shape'][:2]
            bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, ori_w)
            bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, ori_h)
            result = InstanceData(
                bboxes=torch.from_numpy(bboxes),
                scores=torch.from_numpy(dets[i, keep, 4].copy()),
                labels=torch.from_numpy(labels[i, keep].astype(np.int64)))
            if masks is not None:
                result.masks = torch.from_numpy(
                    self._masks(masks[i, keep], bboxes, sample.metainfo))
            sample.pred_instances = result
        return data_samples

    def _masks(self, masks: np.ndarray, bboxes: np.ndarray,
               meta: dict) -> np.ndarray:
        """Instance masks in the original image, as MMDetection's heads
        give them: RoI masks (M x M) pasted into their boxes, or
        image-sized masks (RTMDet-Ins) cropped and resized."""
        ori_h, ori_w = meta['ori_shape'][:2]
        threshold = self._mask_threshold()
        img_h, img_w = meta['img_shape'][:2]
        if masks.shape[-2] < img_h or masks.shape[-1] < img_w:
            return paste_masks(masks, bboxes, ori_h, ori_w, threshold)
        if not len(masks):
            return np.zeros((0, ori_h, ori_w), bool)
        scale = np.asarray(meta.get('scale_factor', (1, 1))).reshape(-1)
        probs = torch.from_numpy(masks[None, :, :img_h, :img_w].copy())
        size = [math.ceil(img_h / scale[1]), math.ceil(img_w / scale[0])]
        probs = F.interpolate(
            probs, size=size, mode='bilinear', align_corners=False)
        return (probs[0, :, :ori_h, :ori_w] > threshold).numpy()

    def _segmentation(self, logits: np.ndarray, data_samples):
        """Class maps as ``BaseSegmentor.postprocess_result`` makes them:
        the logits cropped to the image, resized to its original size,
        then the argmax."""
        align = (self.model_cfg.get('decode_head')
                 or {}).get('align_corners', False)
        for i, sample in enumerate(data_samples):
            logit = torch.from_numpy(logits[i:i + 1])
            left, right, top, bottom = sample.metainfo.get(
                'padding_size', (0, 0, 0, 0))
            h, w = logit.shape[-2:]
            logit = logit[..., top:h - bottom, left:w - right]
            logit = F.interpolate(
                logit,
                size=sample.metainfo['ori_shape'][:2],
                mode='bilinear',
                align_corners=align)[0]
            sample.seg_logits = PixelData(data=logit)
            sample.pred_sem_seg = PixelData(
                data=logit.argmax(dim=0, keepdim=True))
        return data_samples
