"""The two formulas the built-in dataset's generator and the dataset wrappers share:
which labels a symmetric noise flips and to what, and the geometric long tail."""
from typing import Tuple

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


def geometric_tail(rank, num_classes: int, ratio: float) -> np.ndarray:
    """The share of a class of frequency rank ``rank`` (0: the most frequent) in a long
    tail whose most frequent class is ``ratio`` times the least: ``ratio ** (-r / (C-1))``."""
    return ratio ** (-np.asarray(rank) / max(num_classes - 1, 1))
