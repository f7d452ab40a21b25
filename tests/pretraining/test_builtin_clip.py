"""The built-in CLIP: its pretraining split, its training on the Runner, the shipped
weights' zero-shot accuracy, and the text bank reading it through open_clip."""
import json
import os.path as osp

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F

from mmclipjoint.datasets import ShapesParams
from mmclipjoint.datasets.pretraining import (NAMED_COLOURS, PRETRAINING_SHAPES, PretrainingParams,
                                              caption, detection_split_objects, nearest_colour,
                                              render_pretraining_scene)
from mmclipjoint.datasets.shapes import SHAPES_CLASSES, render_split_image, split_labels
from mmclipjoint.models.layers.clip_text import (BUILTIN_CLIP_MODEL, ENSEMBLE_TEMPLATES,
                                                 encode_class_names)
from mmclipjoint.models.layers.embedding_files import load_embedding_file
from mmclipjoint.pretraining import load_builtin_clip
from mmclipjoint.pretraining.artifacts import PACKED_DIR, ensure_builtin_weights
from mmclipjoint.pretraining.clip import evaluate_builtin_clip
from mmclipjoint.pretraining.packing import load_packed, pack_weights, save_packed, unpack_weights
from mmdet.registry import MODELS


@pytest.fixture(scope='module')
def builtin_clip_weights(tmp_path_factory):
    """The shipped built-in CLIP, unpacked from pretrained/ as a config's first use does."""
    return ensure_builtin_weights(
        str(tmp_path_factory.mktemp('weights') / 'mmclipjoint-shapes-clip.pt'),
        logger=lambda *a: None)


def test_pretraining_scenes_are_deterministic_and_not_detection_images(detection_root):
    p = PretrainingParams()
    image, boxes, attrs = render_pretraining_scene(3, p)
    again = render_pretraining_scene(3, p)
    assert np.array_equal(image, again[0]) and np.array_equal(attrs, again[2])
    assert attrs.shape == (len(boxes), 4)
    assert set(attrs[:, 0]) <= set(range(len(PRETRAINING_SHAPES)))
    # The pretraining split's images are none of the detection splits' images.
    params = ShapesParams.from_dict(
        json.load(open(osp.join(detection_root, 'meta.json')))['params'])
    detection = set()
    for split in ('train', 'val', 'test'):
        per_image, labels = split_labels(split, params)
        offsets = np.concatenate([[0], np.cumsum(per_image)])
        for idx in range(5):
            pixels, _, _ = render_split_image(split, idx, labels[offsets[idx]:offsets[idx + 1]],
                                              params)
            detection.add(pixels.tobytes())
    assert not any(render_pretraining_scene(i, p)[0].tobytes() in detection for i in range(5))


def test_captions_name_the_attributes_and_drop_them_at_the_given_rate():
    rng = np.random.default_rng(0)
    shape, colour = PRETRAINING_SHAPES.index('star'), NAMED_COLOURS.index('red')
    assert caption([shape, colour, 1, 0], rng, drop=0.0) == 'a photo of a small red striped star.'
    assert caption([shape, colour, 1, 0], rng, drop=1.0) == 'a photo of a star.'
    words = [len(caption([shape, colour, 0, 1], rng, drop=0.5).split()) - 4 for _ in range(4000)]
    assert abs(np.mean(words) - 2.5) < 0.05  # the shape always, each other word half the time


def test_detection_split_replay_matches_the_files_and_recovers_colours(detection_root):
    crops, labels, colours = detection_split_objects(detection_root, 'test', 32)
    coco = json.load(open(osp.join(detection_root, 'annotations', 'instances_test.json')))
    assert len(crops) == len(labels) == len(colours) == len(coco['annotations'])
    assert crops.shape[1:] == (32, 32, 3)
    params = ShapesParams.from_dict(
        json.load(open(osp.join(detection_root, 'meta.json')))['params'])
    per_image, true_labels = split_labels('test', params)
    _, boxes, hues = render_split_image('test', 0, true_labels[:per_image[0]], params)
    first = [a for a in coco['annotations'] if a['image_id'] == 1]
    for box, ann in zip(boxes, first):  # the replay draws the boxes the files hold
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        assert ann['bbox'] == [x1, y1, x2 - x1, y2 - y1]
    assert [nearest_colour(h) for h in hues] == colours[:len(first)].tolist()
    assert nearest_colour(0) == NAMED_COLOURS.index('red')
    assert nearest_colour(352) == NAMED_COLOURS.index('red')  # on the circle
    assert nearest_colour(210) == NAMED_COLOURS.index('blue')


def test_shipped_builtin_clip_classifies_test_crops_zero_shot(builtin_clip_weights,
                                                              detection_root):
    """open_clip's zero-shot procedure on the held-out test split's object crops: the six
    classes (at least 90%) and the eight colours, far above chance; the same architecture
    untrained is near chance, so the thresholds test the weights."""
    trained = evaluate_builtin_clip(load_builtin_clip(builtin_clip_weights), detection_root)
    assert trained['objects'] == 1027
    assert trained['class_top1'] >= 0.90
    assert trained['colour_top1'] >= 0.85  # shipped: 0.903; the most frequent colour: 0.177
    torch.manual_seed(0)
    untrained = open_clip.create_model(BUILTIN_CLIP_MODEL, pretrained=None).eval()
    untrained.model_name = BUILTIN_CLIP_MODEL
    chance = evaluate_builtin_clip(untrained, detection_root)
    assert chance['class_top1'] < 0.30 and chance['colour_top1'] < 0.30  # measured 0.167, 0.152
    # The figures shipped beside the weights are these.
    shipped = load_packed(osp.join(PACKED_DIR, 'mmclipjoint-shapes-clip.packed.pt'))['metadata']
    assert shipped['class_top1'] == pytest.approx(trained['class_top1'])
    assert shipped['colour_top1'] == pytest.approx(trained['colour_top1'])


def reference_embeddings(path, names, templates):
    """Independent reference: open_clip itself, prompt by prompt."""
    model = open_clip.create_model(BUILTIN_CLIP_MODEL, pretrained=path).eval()
    tokenizer = open_clip.get_tokenizer(BUILTIN_CLIP_MODEL)
    with torch.no_grad():
        rows = [F.normalize(F.normalize(model.encode_text(tokenizer(
            [t.format(n) for t in templates])), dim=-1).mean(0), dim=0) for n in names]
    return torch.stack(rows)


@pytest.mark.parametrize('templates', [('a photo of a {}.', ), ENSEMBLE_TEMPLATES],
                         ids=['one-template', 'ensemble'])
def test_bank_init_clip_reads_the_builtin_clip_through_open_clip(builtin_clip_weights, tmp_path,
                                                                 templates):
    bank = MODELS.build(dict(
        type='TextEmbeddingBank', class_names=list(SHAPES_CLASSES), init='clip',
        clip=dict(model=BUILTIN_CLIP_MODEL, pretrained=builtin_clip_weights,
                  templates=list(templates)), cache_dir=str(tmp_path)))
    bank.init_weights()
    expected = reference_embeddings(builtin_clip_weights, SHAPES_CLASSES, templates)
    torch.testing.assert_close(bank.embeddings.data, expected, rtol=0, atol=1e-6)
    # Trained text: each class is nearer to itself than to any other class.
    similarity = expected @ expected.T
    others = similarity.masked_fill(torch.eye(6, dtype=bool), -1).max(1).values
    assert (similarity.diag() > others).all()
    # The cache records the built-in model, its weights and the prompts.
    (cache, ) = list(tmp_path.glob(f'{BUILTIN_CLIP_MODEL}-*.pth'))
    content = torch.load(cache, weights_only=True)
    assert content['model'] == BUILTIN_CLIP_MODEL
    assert content['pretrained'] == builtin_clip_weights
    assert content['templates'] == list(templates)
    torch.testing.assert_close(load_embedding_file(str(cache), bank.expected_metadata()),
                               expected, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_build_text_embeddings_tool_records_the_builtin_clip(builtin_clip_weights, tmp_path):
    from joint_testing import REPO, run_tool
    classes = tmp_path / 'classes.txt'
    classes.write_text('\n'.join(SHAPES_CLASSES) + '\n')
    out = tmp_path / 'shapes_builtin.pth'
    run_tool('build_text_embeddings.py', '--classes', str(classes), '--model', BUILTIN_CLIP_MODEL,
             '--pretrained', builtin_clip_weights, '--out', str(out), cwd=REPO)
    content = torch.load(out, weights_only=True)
    assert content['model'] == BUILTIN_CLIP_MODEL and content['pretrained'] == builtin_clip_weights
    torch.testing.assert_close(content['embeddings'], encode_class_names(
        SHAPES_CLASSES, BUILTIN_CLIP_MODEL, builtin_clip_weights), rtol=0, atol=1e-6)


def test_missing_builtin_clip_file_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"is not a file; fix: list the file in the "
                       r"config's builtin_weights .*tools/train_builtin_clip.py"):
        encode_class_names(['star'], BUILTIN_CLIP_MODEL, str(tmp_path / 'nothing.pt'))


def test_packing_keeps_used_rows_and_loads_weights_only(tmp_path):
    state = dict(embedding=torch.randn(50, 4), weight=torch.randn(3, 3), steps=torch.tensor(7))
    packed = pack_weights(state, sparse_rows=dict(embedding=[1, 5, 5, 30]),
                          metadata=dict(class_top1=0.9))
    save_packed(str(tmp_path / 'p.pt'), packed)
    back = unpack_weights(load_packed(str(tmp_path / 'p.pt')))
    assert back['embedding'].shape == (50, 4) and back['embedding'].dtype == torch.float32
    torch.testing.assert_close(back['embedding'][[1, 5, 30]], state['embedding'][[1, 5, 30]],
                               rtol=1e-3, atol=1e-3)  # float16 storage
    assert back['embedding'][[0, 2, 49]].abs().sum() == 0
    assert back['steps'].item() == 7
    with pytest.raises(ValueError, match='not a packed weights file'):
        unpack_weights(dict(state_dict=state))


def test_unknown_builtin_weights_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a built-in weights file; known file names: "
                       r"\[.*'mmclipjoint-shapes-clip.pt'"):
        ensure_builtin_weights(str(tmp_path / 'resnet50.pth'))


def test_parallel_rendering_equals_serial():
    from mmclipjoint.datasets.pretraining import render_pretraining_objects
    p = PretrainingParams(num_scenes=230)
    serial = render_pretraining_objects(p, processes=1)
    parallel = render_pretraining_objects(p, processes=2)
    assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])
    assert serial[0].shape == (len(serial[1]), 64, 64, 3)


def test_captioned_batches_hold_distinct_attribute_combinations(tmp_path):
    from mmclipjoint.pretraining.clip import CaptionedObjects

    # Captions naming every attribute: distinct captions = distinct combinations.
    dataset = CaptionedObjects(str(tmp_path / 'pt'), num_iters=3, batch_size=96,
                               caption_drop=0.0, params=dict(num_scenes=150))
    assert len(dataset) == 3 * 96
    batches = [[dataset[batch * 96 + slot] for slot in range(96)] for batch in range(3)]
    for items in batches:
        assert all(item['inputs'].shape == (3, 64, 64) for item in items)
        assert len({item['caption'] for item in items}) == 96
    assert {i['caption'] for i in batches[0]} != {i['caption'] for i in batches[1]}
    assert dataset[7]['caption'] == batches[0][7]['caption']  # seeded by the index
    assert torch.equal(dataset[7]['inputs'], batches[0][7]['inputs'])
    with pytest.raises(ValueError, match=r'batch_size must be in \[1, 320\]'):
        CaptionedObjects(str(tmp_path / 'pt'), num_iters=1, batch_size=400,
                         params=dict(num_scenes=150))


def _tiny_build(tmp_path, name, detection_root):
    from mmclipjoint.pretraining.build import build_builtin_clip
    return build_builtin_clip(out_dir=str(tmp_path / name),
                              work_dir=str(tmp_path / f'{name}_work'), iters=40, batch_size=32,
                              num_scenes=60, data_root=str(tmp_path / 'pretraining'),
                              eval_data_root=detection_root,
                              pack_to=str(tmp_path / f'{name}.packed.pt'),
                              options={'default_hooks.logger.interval': 1})


@pytest.mark.slow
def test_training_on_the_runner_lowers_the_loss_exports_and_repeats(tmp_path, detection_root):
    """A short run of the real training config: the contrastive loss falls, the weights
    load through open_clip's own loader, the packed copy unpacks to the same file, the
    figures are written, and a second run with the same seed gives the same weights."""
    result = _tiny_build(tmp_path, 'a', detection_root)
    log = next((tmp_path / 'a_work').glob('*/vis_data/scalars.json'))
    scalars = [json.loads(line) for line in open(log)]
    losses = [s['loss_clip'] for s in scalars if 'loss_clip' in s]
    assert len(losses) == 40 and np.mean(losses[-8:]) < np.mean(losses[:8]) - 0.3
    weights = tmp_path / 'a' / 'mmclipjoint-shapes-clip.pt'
    model = load_builtin_clip(str(weights))
    state = torch.load(weights, weights_only=True)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    unpacked = unpack_weights(load_packed(str(tmp_path / 'a.packed.pt')))
    assert all(torch.equal(unpacked[key], state[key]) for key in state)
    written = json.load(open(tmp_path / 'a' / 'zero_shot.json'))
    assert written == result and written['iterations'] == 40 and written['objects'] == 1027
    assert 0 <= written['class_top1'] <= 1 and 0 <= written['colour_top1'] <= 1
    _tiny_build(tmp_path, 'b', detection_root)
    again = torch.load(tmp_path / 'b' / 'mmclipjoint-shapes-clip.pt', weights_only=True)
    assert all(torch.equal(again[key], state[key]) for key in state)


def test_packed_token_rows_cover_every_caption_the_generator_writes():
    """The packed copy keeps only the token rows the captions use: every word of every
    caption (and of the zero-shot prompts) must be among them."""
    from itertools import product

    from mmclipjoint.pretraining.clip import colour_templates, trained_token_ids
    kept = set(trained_token_ids())
    tokenizer = open_clip.get_tokenizer(BUILTIN_CLIP_MODEL)
    captions = [caption(attrs, np.random.default_rng(0), drop=0.0) for attrs in product(
        range(len(PRETRAINING_SHAPES)), range(len(NAMED_COLOURS)), range(2), range(2))]
    captions += [caption([s, 0, 0, 0], np.random.default_rng(0), drop=1.0)
                 for s in range(len(PRETRAINING_SHAPES))]
    captions += [t.format(c) for t in colour_templates() for c in NAMED_COLOURS]
    used = set(tokenizer(captions).flatten().tolist())
    assert used <= kept, sorted(used - kept)
    assert len(kept) < 40  # of 49,408


def test_encoding_leaves_the_global_random_state_alone(builtin_clip_weights):
    """A run draws the same random numbers whether its class embeddings are encoded or
    read from the cache (creating the open_clip model would otherwise draw its init)."""
    torch.manual_seed(3)
    before = torch.get_rng_state()
    encode_class_names(SHAPES_CLASSES, BUILTIN_CLIP_MODEL, builtin_clip_weights)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize('field, value, message', [
    ('crop_size', 8, 'crop_size must be >= 16'),
    ('num_scenes', 0, 'num_scenes must be >= 1'),
    ('max_objects', 1, 'need 1 <= min_objects <= max_objects'),
    ('max_object_size', 0.95, 'need 0 < min_object_size <= max_object_size <= 0.9'),
])
def test_pretraining_params_refuse_bad_values_naming_the_rule(field, value, message):
    with pytest.raises(ValueError, match=f'PretrainingParams: {message}'):
        PretrainingParams(**{field: value})
