"""The pretraining split: captioned object crops for the built-in CLIP and the backbones.

The built-in detection dataset stands in for VOC; this split stands in for the web
images CLIP and ImageNet models are pretrained on. It is drawn by the same renderer
(:func:`~mmclipjoint.datasets.shapes.render_scene`: cluttered backgrounds, textured,
outlined, partly occluding shapes in 160-px scenes) from its own random streams, so it
shares no image with the train / val / test splits, and it is wider than the detection
world: ten shapes (the six detection classes and :data:`EXTRA_SHAPES`), eight named
colours drawn uniformly (no class has a typical colour here), plain or striped, small or
large. Every object is cut out as a square crop around its box and carries its four
attributes, from which captions such as "a photo of a small red striped star." are made.

Everything is a pure function of :class:`PretrainingParams`.
"""
import json
import multiprocessing
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..utils.files import atomic_write
from .shapes import (EXTRA_SHAPES, SHAPES_CLASSES, ShapesParams, _exclusive, check_params,
                     render_scene, render_split_image, split_labels)

PRETRAINING_SHAPES = SHAPES_CLASSES + EXTRA_SHAPES
# Named colours and their hues (degrees); an object's hue is jittered by at most
# COLOUR_JITTER around its name's.
NAMED_COLOURS = ('red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink')
COLOUR_HUES = (0.0, 28.0, 55.0, 120.0, 180.0, 215.0, 280.0, 330.0)
COLOUR_JITTER = 10.0
TEXTURES = ('plain', 'striped')
SIZES = ('small', 'large')
# Attribute columns of :func:`render_pretraining_objects`'s array.
ATTRIBUTES = ('shape', 'colour', 'texture', 'size')
# Stripe amplitude ranges: plain objects are (nearly) flat, striped ones clearly striped;
# the detection splits' objects (0.1-0.35) lie in between.
_STRIPES = dict(plain=(0.0, 0.05), striped=(0.3, 0.5))
# Objects at least this fraction of the image side across are "large".
LARGE_FROM = 0.3
# A crop is the square around the box, this many times its longer side.
CROP_CONTEXT = 1.25
# Separates this split's random streams from the detection splits' ([seed, split, ...]).
_STREAM = 1000


@dataclass(frozen=True)
class PretrainingParams:
    """Parameters of the pretraining split (all of them shape the crops)."""
    num_scenes: int = 4000
    image_size: int = 160
    crop_size: int = 64
    min_objects: int = 2
    max_objects: int = 5
    min_object_size: float = 0.15
    max_object_size: float = 0.45
    seed: int = 7

    def __post_init__(self):
        check_params(self, [(self.num_scenes >= 1, 'num_scenes must be >= 1'),
                            (self.crop_size >= 16, 'crop_size must be >= 16')])


def nearest_colour(hue: float) -> int:
    """Index in :data:`NAMED_COLOURS` of the named hue nearest to ``hue`` (on the circle)."""
    distance = np.abs((np.asarray(COLOUR_HUES) - hue + 180.0) % 360.0 - 180.0)
    return int(distance.argmin())


def crop_object(image: np.ndarray, box: Sequence[float], size: int) -> np.ndarray:
    """The square crop around ``box`` (x1, y1, x2, y2), :data:`CROP_CONTEXT` times its
    longer side, resized to ``size`` pixels (outside the image: black)."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * CROP_CONTEXT
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    crop = Image.fromarray(image).crop(
        (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return np.asarray(crop.resize((size, size), Image.BILINEAR))


def render_pretraining_scene(index: int, p: PretrainingParams):
    """Scene ``index`` of the split: (image, boxes, (N, 4) attributes) with the attribute
    columns :data:`ATTRIBUTES` as indices into the name tuples."""
    rng = np.random.default_rng([p.seed, _STREAM, index])
    count = int(rng.integers(p.min_objects, p.max_objects + 1))
    shapes = rng.integers(0, len(PRETRAINING_SHAPES), count)
    colours = rng.integers(0, len(NAMED_COLOURS), count)
    textures = rng.integers(0, len(TEXTURES), count)

    def colour_fn(colour, texture):
        return lambda r: (COLOUR_HUES[colour] + r.uniform(-COLOUR_JITTER, COLOUR_JITTER),
                          *_STRIPES[TEXTURES[texture]])

    image, boxes, drawn = render_scene(rng, [PRETRAINING_SHAPES[s] for s in shapes],
                                       [colour_fn(c, t) for c, t in zip(colours, textures)],
                                       p.image_size, p.min_object_size, p.max_object_size)
    sizes = (drawn[:, 2] >= LARGE_FROM).astype(np.int64)
    return image, boxes, np.stack([shapes, colours, textures, sizes], 1).astype(np.int64)


def _render_objects(indices: Sequence[int], p: PretrainingParams):
    crops, attributes = [], []
    for index in indices:
        image, boxes, attrs = render_pretraining_scene(index, p)
        crops.extend(crop_object(image, box, p.crop_size) for box in boxes)
        attributes.append(attrs)
    return np.stack(crops), np.concatenate(attributes)


def render_pretraining_objects(p: PretrainingParams,
                               processes: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Every object of the split as a crop: ``(N, S, S, 3)`` uint8 crops and ``(N, 4)``
    int attributes (:data:`ATTRIBUTES`), in scene order. ``processes`` (default: one per
    core, at most 8) render chunks of scenes side by side; the result is the same."""
    processes = processes or min(os.cpu_count() or 1, 8)
    chunks = [range(start, min(start + 100, p.num_scenes))
              for start in range(0, p.num_scenes, 100)]
    if processes > 1 and len(chunks) > 1:
        with multiprocessing.get_context('fork').Pool(processes) as pool:
            parts = pool.starmap(_render_objects, [(chunk, p) for chunk in chunks])
    else:
        parts = [_render_objects(chunk, p) for chunk in chunks]
    return (np.concatenate([crops for crops, _ in parts]),
            np.concatenate([attrs for _, attrs in parts]))


def object_scenes(p: PretrainingParams) -> np.ndarray:
    """The scene index of every object of :func:`render_pretraining_objects`, in its
    order (each scene's object count is the first draw of its stream)."""
    counts = [int(np.random.default_rng([p.seed, _STREAM, index]).integers(
        p.min_objects, p.max_objects + 1)) for index in range(p.num_scenes)]
    return np.repeat(np.arange(p.num_scenes), counts)


def caption(attributes: Sequence[int], rng: np.random.Generator, drop: float = 0.5) -> str:
    """"a photo of a {size} {colour} {texture} {shape}.", each of the first three words
    left out with probability ``drop`` (so captions naming the shape alone occur too)."""
    shape, colour, texture, size = (int(a) for a in attributes)
    words = [word for word in (SIZES[size], NAMED_COLOURS[colour], TEXTURES[texture])
             if rng.random() >= drop]
    return 'a photo of a ' + ' '.join(words + [PRETRAINING_SHAPES[shape]]) + '.'


def load_pretraining_objects(root: str, p: PretrainingParams = PretrainingParams(),
                             logger=print) -> Tuple[np.ndarray, np.ndarray]:
    """The split's crops and attributes, rendered on first use and cached under ``root``
    (``objects.npz`` and ``meta.json``); rendered again when the parameters differ."""
    root = osp.expanduser(root)
    path, meta_path = osp.join(root, 'objects.npz'), osp.join(root, 'meta.json')
    with _exclusive(root):
        try:
            with open(meta_path) as f:
                current = json.load(f) == asdict(p)
        except (OSError, ValueError):
            current = False
        if not (current and osp.isfile(path)):
            logger(f'[pretraining] rendering {p.num_scenes} scenes of the pretraining split '
                   f'into {root}')
            os.makedirs(root, exist_ok=True)
            crops, attributes = render_pretraining_objects(p)
            atomic_write(path, lambda f: np.savez(f, crops=crops, attributes=attributes))
            atomic_write(meta_path, lambda f: json.dump(asdict(p), f, indent=1), mode='w')
        with np.load(path) as data:
            return data['crops'], data['attributes']


def detection_split_objects(root: str, split: str = 'test',
                            size: int = 64) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crops of every object of a generated detection split, with its true class and the
    named colour nearest to the hue it was drawn with.

    The colours are not in the annotation files: they are recovered by replaying the
    split's rendering from ``meta.json``'s parameters (the generator is deterministic).

    Returns:
        tuple: ``(N, size, size, 3)`` uint8 crops, ``(N,)`` true class indices,
        ``(N,)`` colour indices into :data:`NAMED_COLOURS`.
    """
    with open(osp.join(root, 'meta.json')) as f:
        params = ShapesParams.from_dict(json.load(f)['params'])
    per_image, true_labels = split_labels(split, params)
    with open(osp.join(root, 'annotations', f'instances_{split}.json')) as f:
        coco = json.load(f)
    files = {image['id']: image['file_name'] for image in coco['images']}
    offsets = np.concatenate([[0], np.cumsum(per_image)])
    colours = []
    for idx in range(len(per_image)):
        _, _, hues = render_split_image(split, idx, true_labels[offsets[idx]:offsets[idx + 1]],
                                        params)
        colours.extend(nearest_colour(hue) for hue in hues)
    crops, labels, images = [], [], {}
    for ann in coco['annotations']:  # in image order, objects in drawing order
        if ann['image_id'] not in images:
            images[ann['image_id']] = np.asarray(Image.open(osp.join(
                root, 'VOC2007', 'JPEGImages', files[ann['image_id']])).convert('RGB'))
        x, y, w, h = ann['bbox']
        crops.append(crop_object(images[ann['image_id']], (x, y, x + w, y + h), size))
        labels.append(ann['category_id'] - 1)
    if len(crops) != len(colours):
        raise ValueError(f'{root}: the annotations of {split} hold {len(crops)} objects, '
                         f'the generator draws {len(colours)}; regenerate the dataset')
    return np.stack(crops), np.asarray(labels, np.int64), np.asarray(colours, np.int64)
