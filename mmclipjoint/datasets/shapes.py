"""The built-in "shapes" detection dataset: generated on demand, no download.

Textured, rotated, partly occluding shapes on cluttered backgrounds, written in
both the COCO json and the Pascal VOC xml layouts so that MMDetection's own
``CocoDataset`` and ``VOCDataset`` read it unchanged::

    <root>/
      VOC2007/JPEGImages/{train,val,test}_NNNNN.jpg   images (shared by both layouts)
      VOC2007/Annotations/*.xml                       VOC annotations
      VOC2007/ImageSets/Main/{train,val,test}.txt     VOC image lists
      annotations/instances_{train,val,test}.json     COCO annotations
      meta.json                                  parameters, class counts, flips

Three splits: ``train``; ``val``, where options are compared; and ``test``, held out
for the numbers a study reports. Validation and test are balanced and clean.
Two knobs make it a test bed for robustness to the problems the paper targets:

* ``imbalance_ratio``: class frequencies in the training split follow a
  geometric long tail, the most frequent class ``imbalance_ratio`` times the
  least frequent one (1.0 = balanced).
* ``label_noise``: that fraction of the training boxes gets its class flipped to
  a uniformly drawn *other* class, or with ``label_noise_pairs`` (class name -> class
  name) to its fixed confusable class (pair flips); the pixels keep the true class.
  ``meta.json`` lists every flip.

Everything is a pure function of the parameters (``seed`` included): the same
parameters give byte-identical files.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, fields
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .label_noise import choose_flips, geometric_tail, pair_targets, symmetric_flips

# Bumped whenever the rendering changes, so that stale data is regenerated.
GENERATOR_VERSION = 1

SHAPES_CLASSES = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross')
# Shapes the generator also draws that are not detection classes (the built-in CLIP's
# pretraining captions name them, so its text space is more than the six classes).
EXTRA_SHAPES = ('pentagon', 'diamond', 'octagon', 'arrow')
# A typical hue per class (degrees), as real objects have typical colours;
# instances jitter around it and some take any colour, so shape decides.
_CLASS_HUES = (0.0, 215.0, 120.0, 55.0, 285.0, 28.0)
SHAPES_PALETTE = [(220, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 30),
                  (150, 60, 200), (240, 130, 30)]

# A split's random streams are seeded by its index here: appending a split leaves the
# bytes of the others unchanged.
_SPLITS = ('train', 'val', 'test')


def check_params(params, checks) -> None:
    """Raise a ValueError naming the parameters' class, the first failed check and the
    values, for the scene fields every generated split has (``image_size``,
    ``min_objects`` / ``max_objects``, ``min_object_size`` / ``max_object_size``) and
    then ``checks``, a list of ``(ok, message)``."""
    scene = [
        (params.image_size >= 32, 'image_size must be >= 32'),
        (1 <= params.min_objects <= params.max_objects, 'need 1 <= min_objects <= max_objects'),
        (0 < params.min_object_size <= params.max_object_size <= 0.9,
         'need 0 < min_object_size <= max_object_size <= 0.9'),
    ]
    for ok, message in scene + list(checks):
        if not ok:
            raise ValueError(f'{type(params).__name__}: {message} (got {params})')


@dataclass(frozen=True)
class ShapesParams:
    """Parameters of a generated shapes dataset (all of them shape the files)."""
    image_size: int = 160
    num_train: int = 400
    num_val: int = 100
    num_test: int = 300
    min_objects: int = 2
    max_objects: int = 5
    min_object_size: float = 0.15  # object diameter, as a fraction of the image side
    max_object_size: float = 0.45
    imbalance_ratio: float = 1.0
    label_noise: float = 0.0
    random_colour_fraction: float = 0.2
    seed: int = 0
    # None: symmetric noise; {class: class}: each flipped label goes to its pair.
    label_noise_pairs: Optional[Dict[str, str]] = None

    def __post_init__(self):
        check_params(self, [
            (min(self.num_train, self.num_val, self.num_test) >= 1,
             'num_train, num_val and num_test must be >= 1'),
            (self.imbalance_ratio >= 1.0,
             'imbalance_ratio is most/least frequent class, so it must be >= 1.0'),
            (0.0 <= self.label_noise <= 1.0, 'label_noise is a fraction in [0, 1]'),
        ])
        if self.label_noise_pairs is not None:
            pairs = {str(k): str(v) for k, v in dict(self.label_noise_pairs).items()}
            pair_targets(SHAPES_CLASSES, pairs, 'builtin_dataset.label_noise_pairs')
            object.__setattr__(self, 'label_noise_pairs', pairs)

    def record(self) -> dict:
        """The parameters as ``meta.json`` stores them; ``label_noise_pairs`` only when
        set, so that data generated before the field existed stays current."""
        record = asdict(self)
        if record['label_noise_pairs'] is None:
            del record['label_noise_pairs']
        return record

    @classmethod
    def from_dict(cls, cfg: dict) -> 'ShapesParams':
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f'builtin_dataset: unknown field(s) {sorted(unknown)}; '
                             f'known fields are {sorted(known)}')
        return cls(**cfg)


def long_tail_counts(total: int, num_classes: int, ratio: float) -> np.ndarray:
    """Split ``total`` boxes over classes with a geometric long tail.

    Class ``c`` gets a share proportional to ``ratio ** (-c / (C - 1))``, so class 0
    is the most frequent and the last class ``ratio`` times rarer. Rounding is by
    largest remainder, so the counts sum to ``total`` exactly.

    Returns:
        np.ndarray: (C,) int counts.
    """
    weights = geometric_tail(np.arange(num_classes), num_classes, ratio)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind='stable')
    counts[remainder_order[:total - counts.sum()]] += 1
    return counts


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    h = (h % 360.0) / 60.0
    c = v * s
    x = c * (1 - abs(h % 2 - 1))
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h) % 6]
    return (np.array(rgb) + (v - c)) * 255.0


def _regular_polygon(n: int, radius: float, phase: float) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], 1) * radius


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return points @ rot.T


def shape_outline(name: str, radius: float, angle: float) -> np.ndarray:
    """Vertices (N, 2) of a shape, centred on the origin: a detection class
    (:data:`SHAPES_CLASSES`) or one of :data:`EXTRA_SHAPES`."""
    if name == 'pentagon':
        return _regular_polygon(5, radius, angle)
    if name == 'octagon':
        return _regular_polygon(8, radius, angle)
    if name == 'diamond':
        return _rotate(_regular_polygon(4, radius, 0.0) * np.array([0.55, 1.0]), angle)
    if name == 'arrow':
        arrow = np.array([(-1, -0.25), (0.2, -0.25), (0.2, -0.6), (1, 0), (0.2, 0.6),
                          (0.2, 0.25), (-1, 0.25)])
        return _rotate(arrow * radius, angle)
    if name == 'circle':
        return _regular_polygon(48, radius, angle)
    if name == 'square':
        return _regular_polygon(4, radius, angle + np.pi / 4)
    if name == 'triangle':
        return _regular_polygon(3, radius, angle - np.pi / 2)
    if name == 'hexagon':
        return _regular_polygon(6, radius, angle)
    if name == 'star':
        outer = _regular_polygon(5, radius, angle - np.pi / 2)
        inner = _regular_polygon(5, radius * 0.45, angle - np.pi / 2 + np.pi / 5)
        return np.stack([outer, inner], 1).reshape(-1, 2)
    if name == 'cross':
        a, b = radius, radius * 0.36
        pts = np.array([(b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b),
                        (-a, b), (-a, -b), (-b, -b), (-b, -a)], dtype=np.float64)
        return _rotate(pts, angle)
    raise KeyError(f'unknown shape {name!r}; known: {SHAPES_CLASSES + EXTRA_SHAPES}')


def _box_iou(box: np.ndarray, boxes: List[np.ndarray]) -> float:
    if not boxes:
        return 0.0
    others = np.stack(boxes)
    lt = np.maximum(box[:2], others[:, :2])
    rb = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), 1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return float((inter / (area(box) + area(others) - inter)).max())


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A cluttered background: a colour gradient, grain, and thin distractor strokes."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    c0, c1 = (_hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.05, 0.35), rng.uniform(0.35, 0.9))
              for _ in range(2))
    t = (np.cos(rng.uniform(0, np.pi)) * xx + np.sin(rng.uniform(0, np.pi)) * yy)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    img += rng.normal(0, 10, img.shape)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(6, 16)):
        colour = tuple(int(v) for v in _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0, 0.3),
                                                   rng.uniform(0.2, 0.95)))
        if rng.random() < 0.6:
            pts = rng.uniform(0, size, (rng.integers(2, 5), 2))
            draw.line([tuple(p) for p in pts], fill=colour, width=int(rng.integers(1, 3)))
        else:  # small blobs, well below the smallest object
            cx, cy = rng.uniform(0, size, 2)
            r = rng.uniform(1.5, 4)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    return np.asarray(canvas).astype(np.float64)


def _class_colour(label: int, p: ShapesParams):
    """The detection splits' colouring: the class's typical hue (jittered), or any hue for
    ``random_colour_fraction`` of the objects; always striped, amplitude 0.1-0.35."""

    def colour(rng: np.random.Generator) -> Tuple[float, float, float]:
        if rng.random() < p.random_colour_fraction:
            return rng.uniform(0, 360), 0.1, 0.35
        return _CLASS_HUES[label] + rng.uniform(-25, 25), 0.1, 0.35

    return colour


def render_split_image(split: str, idx: int, labels: Sequence[int],
                       p: ShapesParams) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw image ``idx`` of a detection split, whose objects have the true classes
    ``labels``; the same arguments give the same pixels.

    Returns:
        tuple: (H, W, 3) uint8 image, (N, 4) float boxes (x1, y1, x2, y2) in the order of
        ``labels``, and (N,) hues (degrees) the objects were drawn with.
    """
    rng = np.random.default_rng([p.seed, _SPLITS.index(split), 1, idx])
    pixels, boxes, drawn = render_scene(rng, [SHAPES_CLASSES[label] for label in labels],
                                        [_class_colour(label, p) for label in labels],
                                        p.image_size, p.min_object_size, p.max_object_size)
    return pixels, boxes, drawn[:, 0]


def render_scene(rng: np.random.Generator, shapes: Sequence[str], colours: Sequence,
                 size: int, min_object_size: float,
                 max_object_size: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw shapes on a cluttered background, each textured and outlined.

    Args:
        rng: the image's random stream (every draw comes from it, in a fixed order).
        shapes: a name :func:`shape_outline` knows, per object.
        colours: per object, a callable ``colour(rng) -> (hue, stripe_min, stripe_max)``:
            the base hue in degrees and the range the stripe amplitude is drawn from.
        size: image side in pixels.
        min_object_size, max_object_size: object diameter range, fraction of ``size``.

    Returns:
        tuple: (H, W, 3) uint8 image, (N, 4) float boxes (x1, y1, x2, y2) and (N, 3)
        float ``(hue, stripe amplitude, diameter fraction)`` per object.
    """
    img = _background(rng, size)
    yy, xx = np.mgrid[0:size, 0:size]
    boxes: List[np.ndarray] = []
    attributes = []
    for name, colour in zip(shapes, colours):
        # Place without heavy overlap when possible; partial occlusion is intended.
        for attempt in range(30):
            diameter = rng.uniform(min_object_size, max_object_size)
            radius = diameter * size / 2
            centre = rng.uniform(radius, size - radius, 2)
            outline = shape_outline(name, radius, rng.uniform(0, 2 * np.pi))
            outline = outline * rng.uniform(0.85, 1.15, 2) + centre  # mild aspect change
            outline = np.clip(outline, 0, size - 1)
            box = np.concatenate([outline.min(0), outline.max(0) + 1])
            if _box_iou(box, boxes) < 0.3 or attempt == 29:
                break
        boxes.append(box)
        hue, stripe_min, stripe_max = colour(rng)
        base = _hsv_to_rgb(hue, rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))
        # Texture: stripes at a random angle and frequency, plus grain.
        theta, freq = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6)
        stripes = 0.5 + 0.5 * np.sin(freq * (np.cos(theta) * xx + np.sin(theta) * yy))
        amplitude = rng.uniform(stripe_min, stripe_max)
        texture = base * (1 - amplitude * stripes[..., None])
        texture += rng.normal(0, 6, texture.shape)
        mask_img = Image.new('L', (size, size), 0)
        ImageDraw.Draw(mask_img).polygon([tuple(v) for v in outline], fill=255)
        mask = np.asarray(mask_img)[..., None] > 0
        img = np.where(mask, texture, img)
        edge = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        ImageDraw.Draw(edge).polygon([tuple(v) for v in outline],
                                     outline=tuple(int(v * 0.5) for v in base))
        img = np.asarray(edge).astype(np.float64)
        attributes.append((hue % 360.0, amplitude, diameter))
    return (np.clip(img, 0, 255).astype(np.uint8), np.stack(boxes),
            np.asarray(attributes, dtype=np.float64).reshape(-1, 3))


def split_labels(split: str, p: ShapesParams) -> Tuple[np.ndarray, np.ndarray]:
    """Objects per image and the true class of every object, for one split."""
    rng = np.random.default_rng([p.seed, _SPLITS.index(split), 0])
    num_images = dict(train=p.num_train, val=p.num_val, test=p.num_test)[split]
    per_image = rng.integers(p.min_objects, p.max_objects + 1, num_images)
    ratio = p.imbalance_ratio if split == 'train' else 1.0
    counts = long_tail_counts(int(per_image.sum()), len(SHAPES_CLASSES), ratio)
    labels = np.repeat(np.arange(len(SHAPES_CLASSES)), counts)
    rng.shuffle(labels)
    return per_image, labels


def _flip_labels(labels: np.ndarray, p: ShapesParams) -> Tuple[np.ndarray, np.ndarray]:
    """Flip ``round(label_noise * N)`` labels to a different class (uniformly drawn, or
    the pair of ``label_noise_pairs``); returns (labels, idx)."""
    rng = np.random.default_rng([p.seed, 99])
    if p.label_noise_pairs is None:
        flipped, new_labels = symmetric_flips(labels, p.label_noise, len(SHAPES_CLASSES), rng)
    else:
        flipped = choose_flips(len(labels), p.label_noise, rng)
        new_labels = pair_targets(SHAPES_CLASSES, p.label_noise_pairs,
                                  'builtin_dataset.label_noise_pairs')[labels[flipped]]
    noisy = labels.copy()
    noisy[flipped] = new_labels
    return noisy, flipped


def _voc_xml(file_stem: str, size: int, boxes: np.ndarray, labels: Sequence[int]) -> bytes:
    ann = ET.Element('annotation')
    ET.SubElement(ann, 'folder').text = 'VOC2007'
    ET.SubElement(ann, 'filename').text = f'{file_stem}.jpg'
    size_el = ET.SubElement(ann, 'size')
    for tag, value in (('width', size), ('height', size), ('depth', 3)):
        ET.SubElement(size_el, tag).text = str(value)
    for box, label in zip(boxes, labels):
        obj = ET.SubElement(ann, 'object')
        ET.SubElement(obj, 'name').text = SHAPES_CLASSES[label]
        ET.SubElement(obj, 'difficult').text = '0'
        bnd = ET.SubElement(obj, 'bndbox')
        for tag, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), box):
            ET.SubElement(bnd, tag).text = str(int(round(value)))
    ET.indent(ann)
    return ET.tostring(ann, encoding='utf-8')


def _write_split(root: str, split: str, p: ShapesParams) -> dict:
    per_image, true_labels = split_labels(split, p)
    labels, flipped = (_flip_labels(true_labels, p) if split == 'train' and p.label_noise > 0
                       else (true_labels, np.zeros(0, np.int64)))
    voc_dir = osp.join(root, 'VOC2007')
    images, annotations, stems = [], [], []
    offsets = np.concatenate([[0], np.cumsum(per_image)])
    for idx in range(len(per_image)):
        lo, hi = offsets[idx], offsets[idx + 1]
        pixels, boxes, _ = render_split_image(split, idx, true_labels[lo:hi], p)
        stem = f'{split}_{idx:05d}'
        stems.append(stem)
        Image.fromarray(pixels).save(osp.join(voc_dir, 'JPEGImages', f'{stem}.jpg'), quality=92)
        with open(osp.join(voc_dir, 'Annotations', f'{stem}.xml'), 'wb') as f:
            f.write(_voc_xml(stem, p.image_size, boxes, labels[lo:hi]))
        image_id = idx + 1
        images.append(dict(id=image_id, file_name=f'{stem}.jpg', width=p.image_size,
                           height=p.image_size))
        for obj, (box, label) in enumerate(zip(boxes, labels[lo:hi])):
            # Same integer pixel box as the VOC file, so both layouts agree exactly.
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            annotations.append(dict(id=int(lo + obj + 1), image_id=image_id,
                                    category_id=int(label) + 1, bbox=[x1, y1, x2 - x1, y2 - y1],
                                    area=(x2 - x1) * (y2 - y1), iscrowd=0))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=n, supercategory='shape')
                            for i, n in enumerate(SHAPES_CLASSES)])
    with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(coco, f)
    with open(osp.join(voc_dir, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
        f.write('\n'.join(stems) + '\n')
    num = len(SHAPES_CLASSES)
    return dict(
        num_images=len(per_image),
        num_boxes=int(len(labels)),
        true_class_counts=np.bincount(true_labels, minlength=num).tolist(),
        label_class_counts=np.bincount(labels, minlength=num).tolist(),
        # COCO annotation ids (1-based) whose label differs from what the image shows.
        flipped_annotation_ids=(flipped + 1).tolist(),
        flipped_true_labels=[SHAPES_CLASSES[i] for i in true_labels[flipped]],
    )


def _read_meta(root: str) -> Optional[dict]:
    try:
        with open(osp.join(root, 'meta.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _exclusive(root: str):
    """Hold a lock beside ``root``: the processes of a multi-process run all prepare the
    data, and exactly one of them writes it."""
    path = osp.abspath(root) + '.lock'
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def generate_shapes_dataset(root: str, params: Optional[ShapesParams] = None,
                            force: bool = False, logger=print) -> dict:
    """Generate the dataset under ``root``, or reuse it when the parameters match.

    The files are written to a temporary folder beside ``root`` and moved in place
    at the end, so an interrupted run never leaves a half-written dataset behind.

    Returns:
        dict: the content of ``meta.json`` (parameters, per-split counts, flips).
    """
    with _exclusive(root):
        return _generate_unlocked(root, params or ShapesParams(), force, logger)


def _generate_unlocked(root: str, params: ShapesParams, force: bool, logger) -> dict:
    wanted = dict(params=params.record(), classes=list(SHAPES_CLASSES),
                  generator_version=GENERATOR_VERSION)
    meta = _read_meta(root)
    if not force and meta is not None and all(meta.get(k) == v for k, v in wanted.items()):
        return meta
    if meta is not None or osp.exists(root):
        logger(f'[shapes] parameters of {root} differ from the requested ones: regenerating')
    logger(f'[shapes] generating {params.num_train}+{params.num_val}+{params.num_test} images of '
           f'{params.image_size}x{params.image_size} into {root}')
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.shapes-', dir=parent)
    try:
        for sub in ('VOC2007/JPEGImages', 'VOC2007/Annotations', 'VOC2007/ImageSets/Main',
                    'annotations'):
            os.makedirs(osp.join(tmp, sub))
        meta = dict(wanted, **{split: _write_split(tmp, split, params) for split in _SPLITS})
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
        if osp.exists(root):
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def dataset_fingerprint(root: str) -> str:
    """SHA-256 over every file under ``root`` (names and bytes), for reproducibility checks."""
    digest = hashlib.sha256()
    for dirpath, _, filenames in sorted(os.walk(root)):
        for name in sorted(filenames):
            path = osp.join(dirpath, name)
            digest.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def prepare_builtin_dataset(cfg, logger=print) -> Optional[Dict]:
    """Make sure the built-in dataset a config asks for exists on disk.

    A config asks for it with a top-level ``builtin_dataset = dict(root=..., **params)``
    (see ``configs/_base_/datasets/shapes_parts.py``). Configs without it are left alone.
    The dataset's class names are checked against the ``metainfo`` of the config's
    dataloaders.
    """
    spec = cfg.get('builtin_dataset')
    if spec is None:
        return None
    spec = dict(spec)
    root = spec.pop('root')
    meta = generate_shapes_dataset(root, ShapesParams.from_dict(spec), logger=logger)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg.get(loader, {}).get('dataset', {})
        classes = tuple(dataset.get('metainfo', {}).get('classes', ()))
        if classes and classes != tuple(meta['classes']):
            raise ValueError(
                f'{loader}.dataset.metainfo.classes in the config {classes} differ from the '
                f'classes of the built-in dataset in {root}/meta.json {tuple(meta["classes"])};'
                f' fix: set metainfo = dict(classes={tuple(meta["classes"])})')
    return meta
