"""Deterministic synthetic scenes: demo data for detection and segmentation.

COCO and ADE20K are large downloads; the demos train on small sets of
simple shapes instead. A scene is an image with non-overlapping objects of
a few shape classes, each described by a polygon, so the same scenes serve
instance masks (COCO format) and label maps (ADE20K format).
"""
from typing import Dict, List, Tuple

import cv2
import numpy as np

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
        raise ValueError(f'unknown shape {shape!r}; valid: {SHAPES}')
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
