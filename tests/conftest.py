import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
