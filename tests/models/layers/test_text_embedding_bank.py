"""TextEmbeddingBank from each source (CLIP through open_clip, file, random), its
metadata checks, cache, temperatures, and the embedding-file tool."""
import os.path as osp
import subprocess
import sys

import open_clip
import pytest
import torch
import torch.nn.functional as F

from joint_testing import REPO
from mmclipjoint.models import TextEmbeddingBank
from mmclipjoint.models.layers.embedding_files import embedding_file_metadata, save_embedding_file
from mmdet.registry import MODELS

CLASSES = ['circle', 'pottedplant', 'star']


def reference_embeddings(model_name, checkpoint, names, templates):
    """Independent reference: open_clip's model, prompt by prompt."""
    model = open_clip.create_model(model_name, pretrained=checkpoint).eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    rows = []
    with torch.no_grad():
        for name in names:
            feats = F.normalize(model.encode_text(tokenizer([t.format(name) for t in templates])),
                                dim=-1)
            rows.append(F.normalize(feats.mean(0), dim=0))
    return torch.stack(rows)


def clip_bank(tiny_clip_checkpoint, cache_dir, **kwargs):
    name, path = tiny_clip_checkpoint
    cfg = dict(type='TextEmbeddingBank', class_names=CLASSES, init='clip',
               clip=dict(model=name, pretrained=path), cache_dir=str(cache_dir))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_clip_init_encodes_names_with_spelling_map_and_caches(tiny_clip_checkpoint, tmp_path,
                                                              monkeypatch):
    bank = clip_bank(tiny_clip_checkpoint, tmp_path)
    bank.init_weights()
    expected = reference_embeddings(*tiny_clip_checkpoint, ['circle', 'potted plant', 'star'],
                                    ['a photo of a {}.'])
    torch.testing.assert_close(bank.embeddings.data, expected, atol=1e-5, rtol=1e-5)
    # The text encoder is not part of the detector: only the bank's own tensors.
    assert set(bank.state_dict()) == {'embeddings', 'log_logit_scale', 'background_embedding'}
    assert bank.embeddings.requires_grad

    # A second build takes the cached embeddings and never loads CLIP.
    def no_clip(*args, **kwargs):
        raise AssertionError('CLIP was loaded again despite the cache')
    monkeypatch.setattr(open_clip, 'create_model', no_clip)
    again = clip_bank(tiny_clip_checkpoint, tmp_path)
    again.init_weights()
    torch.testing.assert_close(again.embeddings.data, expected, atol=1e-5, rtol=1e-5)


def test_prompt_ensemble_averages_templates(tiny_clip_checkpoint, tmp_path):
    templates = ['a photo of a {}.', 'a drawing of a {}.', 'a {} in a video game.']
    name, path = tiny_clip_checkpoint
    bank = clip_bank(tiny_clip_checkpoint, tmp_path,
                     clip=dict(model=name, pretrained=path, templates=templates,
                               name_map={'pottedplant': 'house plant'}))
    bank.init_weights()
    expected = reference_embeddings(name, path, ['circle', 'house plant', 'star'], templates)
    torch.testing.assert_close(bank.embeddings.data, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_build_tool_writes_a_file_the_bank_loads(tiny_clip_checkpoint, tmp_path):
    name, path = tiny_clip_checkpoint
    classes_file = tmp_path / 'classes.txt'
    classes_file.write_text('\n'.join(CLASSES) + '\n')
    out = tmp_path / 'emb.pth'
    # The tool runs in a fresh process: register the tiny architecture there too.
    code = (f'import open_clip, runpy, sys; open_clip.add_model_config({osp.dirname(path)!r}); '
            f"sys.argv = ['build_text_embeddings.py'] + sys.argv[1:]; "
            f"runpy.run_path({osp.join(REPO, 'tools/build_text_embeddings.py')!r}, "
            f"run_name='__main__')")
    proc = subprocess.run([sys.executable, '-c', code, '--classes', str(classes_file),
                           '--model', name, '--pretrained', path, '--out', str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'wrote {out}: 3 classes x 512 dims' in proc.stdout
    content = torch.load(out, weights_only=True)  # tensors and plain types only
    assert content['class_names'] == CLASSES and content['templates'] == ['a photo of a {}.']

    bank = MODELS.build(dict(type='TextEmbeddingBank', class_names=CLASSES, init='file',
                             embedding_file=str(out), clip=dict(model=name)))
    bank.init_weights()
    torch.testing.assert_close(bank.embeddings.data, content['embeddings'])
    torch.testing.assert_close(
        bank.embeddings.data,
        reference_embeddings(name, path, ['circle', 'potted plant', 'star'],
                             ['a photo of a {}.']), atol=1e-5, rtol=1e-5)


def write_file(path, class_names=CLASSES, dims=512, templates=('a photo of a {}.', ),
               model='ViT-B-32'):
    meta = embedding_file_metadata(class_names, model, 'openai', templates, None, dims)
    save_embedding_file(str(path), F.normalize(torch.randn(len(class_names), dims), dim=-1), meta)


@pytest.mark.parametrize('writer, field', [
    (dict(class_names=['circle', 'pottedplant', 'square']), 'class_names'),
    (dict(class_names=['circle', 'pottedplant']), 'class_names'),  # class count
    (dict(class_names=['star', 'pottedplant', 'circle']), 'class_names'),  # order
    (dict(templates=('a drawing of a {}.', )), 'templates'),
    (dict(model='RN50'), 'model'),
    (dict(dims=256), 'embed_dims'),
])
def test_file_metadata_mismatch_names_the_field(tmp_path, writer, field):
    path = tmp_path / 'emb.pth'
    write_file(path, **writer)
    bank = TextEmbeddingBank(class_names=CLASSES, init='file', embedding_file=str(path))
    with pytest.raises(ValueError, match=rf'field `{field}` of embedding file .*emb.pth is .* '
                                         rf'but the config asks for .*fix: rebuild'):
        bank.init_weights()


def test_missing_and_corrupt_files_are_named(tmp_path):
    missing = tmp_path / 'nope.pth'
    bank = TextEmbeddingBank(class_names=CLASSES, init='file', embedding_file=str(missing))
    with pytest.raises(FileNotFoundError, match=r'nope.pth does not exist; fix: build it'):
        bank.init_weights()
    good = tmp_path / 'emb.pth'
    write_file(good)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:200])
    bank = TextEmbeddingBank(class_names=CLASSES, init='file', embedding_file=str(truncated))
    with pytest.raises(ValueError, match=r'truncated.pth cannot be read .*fix: rebuild'):
        bank.init_weights()


def test_random_init_only_when_asked_and_warns():
    bank = TextEmbeddingBank(class_names='voc', init='random')
    assert bank.num_classes == 20 and bank.class_names[15] == 'pottedplant'
    before = bank.embeddings.data.clone()
    with pytest.warns(UserWarning, match="init='random'"):
        bank.init_weights()
    torch.testing.assert_close(bank.embeddings.data, before)
    with pytest.raises(ValueError, match='init must be one of'):
        TextEmbeddingBank(class_names='voc', init='zeros')
    with pytest.raises(ValueError, match="'vocc' is neither"):
        TextEmbeddingBank(class_names='vocc', init='random')
    assert TextEmbeddingBank(class_names='coco', init='random').num_classes == 80


def test_temperature_modes_and_bound():
    per_class = TextEmbeddingBank(class_names=CLASSES, init='random')
    assert per_class.log_logit_scale.shape == (len(CLASSES) + 1, )
    torch.testing.assert_close(per_class.logit_scale(), torch.full((4, ), 1 / 0.07))
    with torch.no_grad():
        per_class.log_logit_scale.fill_(10.0)
    assert torch.allclose(per_class.logit_scale(), torch.tensor(100.0))  # tau >= 0.01

    shared = TextEmbeddingBank(class_names=CLASSES, init='random',
                               temperature=dict(mode='shared', init=0.05))
    assert shared.log_logit_scale.shape == (1, ) and shared.log_logit_scale.requires_grad
    fixed = TextEmbeddingBank(class_names=CLASSES, init='random', background=False,
                              temperature=dict(mode='fixed'))
    assert 'log_logit_scale' not in dict(fixed.named_parameters())
    assert 'log_logit_scale' in fixed.state_dict()

    regions = torch.randn(5, 512)
    logits = per_class(regions)
    assert logits.shape == (5, 4)
    assert fixed(regions).shape == (5, 3)
    expected = F.normalize(regions, dim=-1) @ per_class.text_embeddings().t() * 100.0
    torch.testing.assert_close(logits, expected)


def test_frozen_text_embeddings():
    bank = TextEmbeddingBank(class_names=CLASSES, init='random', learnable=False)
    assert not bank.embeddings.requires_grad
    bank(torch.randn(3, 512)).sum().backward()
    assert bank.embeddings.grad is None and bank.log_logit_scale.grad is not None


def test_a_plain_npy_array_is_read_in_class_order_and_normalised(tmp_path):
    """Detic / YOLO-World write (C, D) arrays: one row per class of the config."""
    import numpy as np
    array = np.random.default_rng(0).normal(size=(3, 512)).astype(np.float32) * 7
    path = tmp_path / 'detic_clip.npy'
    np.save(path, array)
    bank = TextEmbeddingBank(class_names=CLASSES, init='file', embedding_file=str(path))
    bank.init_weights()
    expected = F.normalize(torch.from_numpy(array), dim=1)
    torch.testing.assert_close(bank.embeddings.data, expected)
    assert torch.allclose(bank.embeddings.data.norm(dim=1), torch.ones(3))


@pytest.mark.parametrize('shape, message', [
    ((4, 512), r'has 4 rows but text_bank.class_names has 3 classes .*fix: one row per class'),
    ((3, 256), r'has 256-d rows but text_bank.embed_dims is 512; fix: set embed_dims=256'),
    ((3, 2, 512), r'an embedding array is 2-d float'),
])
def test_a_mismatched_npy_array_is_refused_naming_both_sizes(tmp_path, shape, message):
    import numpy as np
    path = tmp_path / 'bad.npy'
    np.save(path, np.ones(shape, dtype=np.float32))
    bank = TextEmbeddingBank(class_names=CLASSES, init='file', embedding_file=str(path))
    with pytest.raises(ValueError, match=message):
        bank.init_weights()


@pytest.mark.slow
def test_build_tool_converts_an_npy_array_into_the_checked_format(tmp_path):
    import numpy as np
    array = np.random.default_rng(1).normal(size=(3, 512)).astype(np.float32)
    np.save(tmp_path / 'yolo_world.npy', array)
    classes_file = tmp_path / 'classes.txt'
    classes_file.write_text('\n'.join(CLASSES) + '\n')
    out = tmp_path / 'emb.pth'
    tool = osp.join(REPO, 'tools/build_text_embeddings.py')
    proc = subprocess.run([sys.executable, tool, '--classes', str(classes_file), '--from-npy',
                           str(tmp_path / 'yolo_world.npy'), '--out', str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bank = TextEmbeddingBank(class_names=CLASSES, init='file', embedding_file=str(out))
    bank.init_weights()  # the metadata (classes, model, templates, dims) matches the config
    torch.testing.assert_close(bank.embeddings.data, F.normalize(torch.from_numpy(array), dim=1))
    classes_file.write_text('circle\nstar\n')
    proc = subprocess.run([sys.executable, tool, '--classes', str(classes_file), '--from-npy',
                           str(tmp_path / 'yolo_world.npy'), '--out', str(tmp_path / 'x.pth')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and 'has 3 rows but --classes has 2 classes' in proc.stderr
    assert not (tmp_path / 'x.pth').exists()


def test_offline_clip_download_names_the_two_fixes(tmp_path, monkeypatch):
    """What a user without internet meets at init_weights: open_clip's download error,
    explained, with both offline routes."""
    def offline(*args, **kwargs):
        raise RuntimeError("Failed to download weights for tag 'openai': [Errno -3] "
                           'Temporary failure in name resolution')
    monkeypatch.setattr(open_clip, 'create_model', offline)
    bank = TextEmbeddingBank(class_names=CLASSES, init='clip', cache_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match=r"the CLIP weights 'openai' of ViT-B-32 could not be "
                                           r'downloaded .*Failed to download.*set '
                                           r'text_bank.clip.pretrained to a local .*'
                                           r"init='file'"):
        bank.init_weights()
