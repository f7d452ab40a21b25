"""The formulas the built-in dataset's generator and the dataset wrappers share: which
labels a label noise flips and to what (symmetric, or pair flips between fixed
confusable classes), and the geometric long tail."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


def choose_flips(num_labels: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``round(rate * num_labels)`` labels to flip, drawn without
    replacement."""
    num_flips = int(round(rate * num_labels))
    return np.sort(rng.choice(num_labels, num_flips, replace=False))


def other_classes(labels: np.ndarray, num_classes: int,
                  rng: np.random.Generator) -> np.ndarray:
    """For each label a uniformly drawn *other* class (symmetric noise): the label
    shifted by 1 .. C-1, modulo C."""
    shifts = rng.integers(1, num_classes, len(labels))
    return (np.asarray(labels) + shifts) % num_classes


def symmetric_flips(labels: np.ndarray, rate: float, num_classes: int,
                    rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """(indices flipped, their new labels) of a symmetric label noise at ``rate``."""
    chosen = choose_flips(len(labels), rate, rng)
    return chosen, other_classes(np.asarray(labels)[chosen], num_classes, rng)


def pair_targets(classes: Sequence[str], pairs: Optional[Dict[str, str]],
                 owner: str) -> np.ndarray:
    """(C,) the class each class is flipped to by a pair noise: ``pairs`` maps a class
    name to another class name; None maps each class to the next one (the last to the
    first). ``owner`` names the field in the errors (e.g. ``NoisyLabelDataset.pairs``)."""
    classes = list(classes)
    if pairs is None:
        return (np.arange(len(classes)) + 1) % len(classes)
    unknown = sorted((set(pairs) | set(pairs.values())) - set(classes))
    if unknown:
        raise ValueError(f'{owner} names classes the dataset does not have: {unknown}; the '
                         f'classes are {classes}')
    targets = np.arange(len(classes))
    for source, target in pairs.items():
        targets[classes.index(source)] = classes.index(target)
    if (targets == np.arange(len(classes))).any():
        missing = [c for i, c in enumerate(classes) if targets[i] == i]
        raise ValueError(f'{owner} must map every class to another one; missing or mapped '
                         f'to itself: {missing}')
    return targets


def geometric_tail(rank, num_classes: int, ratio: float) -> np.ndarray:
    """The share of a class of frequency rank ``rank`` (0: the most frequent) in a long
    tail whose most frequent class is ``ratio`` times the least: ``ratio ** (-r / (C-1))``."""
    return ratio ** (-np.asarray(rank) / max(num_classes - 1, 1))
