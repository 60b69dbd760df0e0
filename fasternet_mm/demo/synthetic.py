"""Deterministic synthetic scenes: demo data for detection and segmentation.

COCO and ADE20K are large downloads; the demos train on small sets of
simple shapes instead. A scene is an image with non-overlapping objects of
a few shape classes, each described by a polygon, so the same scenes serve
instance masks (COCO format) and label maps (ADE20K format).
"""
from typing import Dict, Iterator, List, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import ConfigValueError

SHAPES = ('circle', 'square', 'triangle', 'star')
# A base colour per class (RGB), jittered per object.
SHAPE_COLORS = ((220, 60, 60), (60, 180, 75), (65, 105, 225), (240, 200, 40))


def shape_polygon(shape: str, center: Tuple[float, float], radius: float,
                  angle: float) -> np.ndarray:
    """Vertices (N, 2) of ``shape`` around ``center``, rotated by ``angle``."""
    if shape == 'circle':
        n, radii = 32, [radius]
    elif shape == 'square':
        n, radii = 4, [radius]
    elif shape == 'triangle':
        n, radii = 3, [radius]
    elif shape == 'star':
        n, radii = 10, [radius, radius * 0.45]
    else:
        raise ConfigValueError(f'unknown shape {shape!r}; valid: {SHAPES}')
    t = angle + np.arange(n) * 2 * np.pi / n
    r = np.array([radii[i % len(radii)] for i in range(n)])
    return np.stack([center[0] + r * np.cos(t), center[1] + r * np.sin(t)], 1)


def random_scene(rng: np.random.Generator,
                 height: int,
                 width: int,
                 max_objects: int = 4,
                 min_radius: float = 0.1,
                 max_radius: float = 0.22) -> Tuple[np.ndarray, List[Dict]]:
    """Draw one scene.

    Returns:
        The RGB image (H, W, 3, uint8) and its objects, each a dict with
        ``label`` (index into :data:`SHAPES`), ``polygon`` (N, 2 float, x y)
        and ``mask`` (H, W, bool, the pixels the object covers).
    """
    background = rng.integers(90, 160, size=3)
    img = np.empty((height, width, 3), np.float32)
    img[:] = background
    img += rng.normal(0, 12, size=img.shape)  # texture, so edges matter
    side = min(height, width)
    target = int(rng.integers(1, max_objects + 1))
    objects, placed = [], []
    for _ in range(50 * max_objects):
        if len(objects) == target:
            break
        radius = rng.uniform(min_radius, max_radius) * side
        cx = rng.uniform(radius, width - radius)
        cy = rng.uniform(radius, height - radius)
        if any(
                np.hypot(cx - x, cy - y) < radius + r + 2
                for x, y, r in placed):
            continue
        label = int(rng.integers(len(SHAPES)))
        poly = shape_polygon(SHAPES[label], (cx, cy), radius,
                             rng.uniform(0, 2 * np.pi))
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        if mask.sum() < 16:
            continue
        color = np.clip(
            np.array(SHAPE_COLORS[label]) + rng.integers(-30, 31, size=3), 0,
            255)
        img[mask.astype(bool)] = color + rng.normal(0, 6, size=(mask.sum(), 3))
        placed.append((cx, cy, radius))
        objects.append(dict(label=label, polygon=poly, mask=mask.astype(bool)))
    return np.clip(img, 0, 255).astype(np.uint8), objects


def check_set_sizes(num_train: int, num_val: int, img_size: int) -> None:
    """The demo generators' shared argument check."""
    if min(num_train, num_val) < 1 or img_size < 32:
        raise ConfigValueError(
            f'need at least one image per split and img_size >= 32, got '
            f'num_train={num_train}, num_val={num_val}, img_size={img_size}')


def split_scenes(num: int, img_size: int, seed: int, stream: int,
                 max_objects: int, desc: str,
                 progress: bool) -> Iterator[Tuple[int, np.ndarray, List]]:
    """Yield ``(index, image, objects)`` for the ``num`` scenes of a split.

    Scene ``i`` is drawn from its own stream seeded by ``(seed, stream, i)``,
    so a seed gives the same files whatever the set sizes.
    """
    for i in tqdm(range(num), desc=desc, unit='img', disable=not progress):
        rng = np.random.default_rng([seed, stream, i])
        img, objects = random_scene(
            rng, img_size, img_size, max_objects=max_objects)
        yield i, img, objects
