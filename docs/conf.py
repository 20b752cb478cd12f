"""Sphinx configuration: markdown pages (MyST) + an autodoc API reference generated for every
module of the package (autosummary, recursive). Built by ``bash scripts/docs.sh`` with
warnings as errors."""
import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, os.path.abspath('..'))
os.environ.setdefault('TGU_PROGRESS', '0')

import torch_geometric_unlearn  # noqa: E402

project = 'torch_geometric_unlearn'
author = 'torch_geometric_unlearn developers'
copyright = f'{date.today().year}, {author}'
version = release = torch_geometric_unlearn.__version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.mathjax',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
templates_path = ['_templates']

# MyST: GitHub-style markdown plus $math$ and ::: fences; headings get anchors.
myst_enable_extensions = ['dollarmath', 'colon_fence']
myst_heading_anchors = 3

# API reference: one page per module, members documented where they are defined (the
# package-level re-exports are not documented twice).
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {'members': True, 'show-inheritance': True,
                           'ignore-module-all': True, 'member-order': 'bysource'}
autodoc_typehints = 'none'  # signatures carry the hints; PyG-style "Args:" say the rest
autodoc_inherit_docstrings = False  # torch.nn.Module docstrings are not ours to render
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
add_module_names = False
# Unresolved references to torch / PyG objects (no network for intersphinx) are not errors.
nitpicky = False

html_theme = 'sphinx_rtd_theme'
html_title = f'{project} {version}'
html_static_path = []


# Links from the markdown pages to repository files outside docs/ (benchmark folders, example
# scripts) become links to the repository instead of broken cross-references.
REPO_URL = 'https://github.com/torch-geometric-unlearn/torch_geometric_unlearn'
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / 'docs'


def _outside_docs(docdir: Path, target: str):
    for base in (docdir, DOCS):
        path = (base / target).resolve()
        for cand in (path, path.with_name(path.name + '.md')):
            if cand.exists() and ROOT in cand.parents and DOCS not in cand.parents:
                return cand
    return None


def _repository_links(app, doctree) -> None:
    from docutils import nodes
    from sphinx import addnodes
    docdir = (DOCS / app.env.docname).parent
    for node in list(doctree.findall(addnodes.pending_xref)) + \
            list(doctree.findall(addnodes.download_reference)):
        if node.get('reftype') != 'myst':
            continue
        target = str(node.get('reftarget') or '')
        path, anchor = target, node.get('reftargetid')
        if '#' in target:
            path, anchor = target.split('#', 1)
        if not path or '://' in path:
            continue
        found = _outside_docs(docdir, path)
        if found is None:
            continue  # inside docs/ or missing: MyST resolves it (or warns)
        kind = 'tree' if found.is_dir() else 'blob'
        uri = f'{REPO_URL}/{kind}/main/{found.relative_to(ROOT).as_posix()}'
        ref = nodes.reference('', '', refuri=uri + (f'#{anchor}' if anchor else ''))
        ref += node.children
        node.replace_self(ref)


def setup(app):
    app.connect('doctree-read', _repository_links)
