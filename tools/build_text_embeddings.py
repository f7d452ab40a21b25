"""Encode class names with a CLIP text encoder and write a text-embedding file.

    python tools/build_text_embeddings.py --classes voc --out data/text_embeddings/voc.pth
    python tools/build_text_embeddings.py --classes my_classes.txt --pretrained /ckpt/clip.bin \
        --ensemble --out data/text_embeddings/mine.pth
    python tools/build_text_embeddings.py --classes my_classes.txt --from-npy detic_clip.npy \
        --out data/text_embeddings/mine.pth      # an array made elsewhere, no CLIP needed

The file holds the (C, D) embeddings and how they were made (class names, model,
pretrained weights, templates, dimension); a TextEmbeddingBank with
init='file' checks those against its config when it loads the file. Works offline
with --pretrained pointing at a local checkpoint. With --from-npy the (C, D) array of
another tool is checked (a row per class), normalised and recorded with the model and
templates given (say how the array was made: --model, --template / --ensemble), so that
a bank whose `clip` settings match loads it. (A bank can also read the .npy directly:
text_bank.embedding_file='x.npy'.)
"""
import argparse
import json
import os.path as osp

from mmclipjoint.models.layers.clip_text import (DEFAULT_TEMPLATES, ENSEMBLE_TEMPLATES,
                                                 encode_class_names, resolve_class_names)
from mmclipjoint.models.layers.embedding_files import (embedding_file_metadata, load_npy_embeddings,
                                                       save_embedding_file)


def read_classes(spec: str):
    if spec.lower() in ('voc', 'coco'):
        return resolve_class_names(spec)
    if not osp.isfile(spec):
        raise SystemExit(f"--classes: '{spec}' is neither 'voc', 'coco' nor an existing file "
                         f'with one class name per line')
    with open(spec) as f:
        return resolve_class_names([line.strip() for line in f if line.strip()])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--classes', required=True,
                        help="'voc', 'coco', or a text file with one class name per line")
    parser.add_argument('--out', required=True, help='output .pth file')
    parser.add_argument('--model', default='ViT-B-32', help='open_clip model name')
    parser.add_argument('--pretrained', default='openai',
                        help="open_clip pretrained tag, or a local checkpoint file (offline)")
    parser.add_argument('--template', action='append', dest='templates',
                        help=f"prompt template with one '{{}}' (repeatable); default "
                             f'{DEFAULT_TEMPLATES[0]!r}')
    parser.add_argument('--ensemble', action='store_true',
                        help="use CLIP's 7 ImageNet templates, averaged per class")
    parser.add_argument('--name-map', help='JSON file {dataset name: prompt name}; default '
                                           "VOC's spelling fixes (pottedplant -> potted plant)")
    parser.add_argument('--from-npy', metavar='ARRAY',
                        help='convert this (classes, dims) .npy array instead of encoding')
    args = parser.parse_args()

    class_names = read_classes(args.classes)
    templates = args.templates or (ENSEMBLE_TEMPLATES if args.ensemble else DEFAULT_TEMPLATES)
    name_map = json.load(open(args.name_map)) if args.name_map else None
    if args.from_npy:
        import numpy as np
        dims = np.load(args.from_npy, mmap_mode='r').shape[-1]
        try:
            embeddings = load_npy_embeddings(args.from_npy, class_names, dims)
        except ValueError as error:
            raise SystemExit(str(error).replace('text_bank.class_names', '--classes'))
        args.pretrained = f'file:{osp.basename(args.from_npy)}'
    else:
        embeddings = encode_class_names(class_names, args.model, args.pretrained, templates,
                                        name_map, progress=True)
    metadata = embedding_file_metadata(class_names, args.model, args.pretrained, templates,
                                       name_map, embeddings.shape[1])
    save_embedding_file(args.out, embeddings, metadata)
    print(f'wrote {args.out}: {len(class_names)} classes x {embeddings.shape[1]} dims, '
          f'{len(templates)} template(s), {args.model} ({args.pretrained})')


if __name__ == '__main__':
    main()
