"""The README and docs/ point at what exists: every relative link's file (and its
#anchor), and every command-line flag given to one of the project's tools."""
import glob
import os.path as osp
import re

import pytest

from joint_testing import REPO
from mmclipjoint.utils.tools import mmdet_tool_path

PAGES = sorted([osp.join(REPO, 'README.md'), osp.join(REPO, 'CHANGELOG.md')] +
               glob.glob(osp.join(REPO, 'docs', '*.md')) +
               glob.glob(osp.join(REPO, 'configs', '**', 'README.md'), recursive=True))
IDS = [osp.relpath(p, REPO) for p in PAGES]
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def prose(path):
    """The lines of a page outside its code blocks."""
    inside = False
    for line in open(path):
        if line.startswith('```'):
            inside = not inside
        elif not inside:
            yield line


def anchors(path):
    """GitHub's anchors of a page's headings."""
    found = set()
    for line in prose(path):
        if line.startswith('#'):
            title = line.lstrip('#').strip().lower()
            found.add(re.sub(r'[^\w\- ]', '', title).replace(' ', '-'))
    return found


@pytest.mark.parametrize('page', PAGES, ids=IDS)
def test_every_relative_link_and_anchor_exists(page):
    broken = []
    for line in prose(page):
        for target in LINK.findall(line):
            if target.startswith(('http://', 'https://', 'mailto:')):
                continue
            path, _, anchor = target.partition('#')
            resolved = osp.normpath(osp.join(osp.dirname(page), path)) if path else page
            if not osp.exists(resolved):
                broken.append(f'{target}: no such file')
            elif anchor and anchor not in anchors(resolved):
                broken.append(f'{target}: no heading with that anchor')
    assert not broken, broken


def tool_sources(tool):
    """The source text where a tool's flags are defined."""
    name = osp.basename(tool)
    texts = [open(osp.join(REPO, 'tools', tool)).read()]
    if tool == 'dist_train.sh':  # passes its options to tools/train.py
        return tool_sources('train.py')
    if tool in ('train.py', 'test.py') or tool.startswith('analysis_tools/'):
        texts.append(open(mmdet_tool_path(tool)).read())  # MMDetection's own tool
    return '\n'.join(texts), name


@pytest.mark.parametrize('page', PAGES, ids=IDS)
def test_every_flag_given_to_a_tool_exists(page):
    unknown = []
    lines = open(page).read().replace('\\\n', ' ').splitlines()  # join continuations
    for line in lines:
        for match in re.finditer(r'(?<![\w/])tools/([\w/]+\.(?:py|sh))', line):
            tool = match.group(1)
            if not osp.isfile(osp.join(REPO, 'tools', tool)):
                unknown.append(f'tools/{tool}: no such tool')
                continue
            rest = re.split(r'[|;]|&&|#', line[match.end():])[0]  # up to the next command
            source, _ = tool_sources(tool)
            for flag in re.findall(r'(?<![\w-])--[a-z][\w-]*', rest):
                if flag != '--help' and f"'{flag}'" not in source and f'"{flag}"' not in source:
                    unknown.append(f'tools/{tool} {flag}')
    assert not unknown, unknown
