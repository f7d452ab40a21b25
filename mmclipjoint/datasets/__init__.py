from .shapes import (SHAPES_CLASSES, SHAPES_PALETTE, ShapesParams, dataset_fingerprint,
                     generate_shapes_dataset, long_tail_counts, prepare_builtin_dataset)

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_PALETTE', 'ShapesParams', 'dataset_fingerprint',
    'generate_shapes_dataset', 'long_tail_counts', 'prepare_builtin_dataset'
]
