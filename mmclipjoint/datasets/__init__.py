from .shapes import (SHAPES_CLASSES, SHAPES_PALETTE, ShapesParams, dataset_fingerprint,
                     generate_shapes_dataset, long_tail_counts, prepare_builtin_dataset)
from .wrappers import BoxNoiseDataset, LongTailDataset, NoisyLabelDataset, TrainingAnnotationWrapper

__all__ = [
    'BoxNoiseDataset', 'LongTailDataset', 'NoisyLabelDataset', 'SHAPES_CLASSES',
    'SHAPES_PALETTE', 'ShapesParams', 'TrainingAnnotationWrapper', 'dataset_fingerprint',
    'generate_shapes_dataset', 'long_tail_counts', 'prepare_builtin_dataset'
]
