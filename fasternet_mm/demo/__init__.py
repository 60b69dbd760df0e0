"""Demo-data generators: small synthetic stand-ins for COCO and ADE20K."""
from .ade20k_demo import (ADE20K_DEMO_CLASSES, ade20k_demo_exists,
                          ade20k_demo_metainfo, make_ade20k_demo)
from .coco_demo import (COCO_DEMO_CLASSES, coco_demo_exists,
                        coco_demo_metainfo, make_coco_demo)

__all__ = [
    'ADE20K_DEMO_CLASSES', 'ade20k_demo_exists', 'ade20k_demo_metainfo',
    'make_ade20k_demo', 'COCO_DEMO_CLASSES', 'coco_demo_exists',
    'coco_demo_metainfo', 'make_coco_demo'
]
