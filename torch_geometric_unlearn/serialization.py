r"""Checkpoints of the full unlearning state that load with ``torch.load(weights_only=True)``.

:meth:`Unlearner.state_dict() <torch_geometric_unlearn.Unlearner.state_dict>` turns the
unlearner (current model, retained graph, history) and its algorithm's internal state (shards,
communities, propagation reserves and residues, certificate, ...) into a tree made only of
what PyTorch's safe unpickler accepts: tensors, numbers, strings, :obj:`None`, dtypes,
devices, lists, tuples and dicts. Every other object is written as a tagged dict:

* :class:`~torch_geometric.data.Data` / :class:`~torch_geometric.data.HeteroData`: their
  :meth:`to_dict`;
* :class:`torch.nn.Module`: its :obj:`state_dict` plus, for classes of this package and of
  :mod:`torch.nn`, its structure (sub-modules, parameters, buffers, plain attributes). A module
  of the user's architecture is rebuilt from a *template* (the model the loading
  :class:`~torch_geometric_unlearn.Unlearner` was built with): no code is ever unpickled;
* plain objects and dataclasses of this package (e.g. the propagation state, a
  certificate, a request): their attributes;
* anything else (a user's callable, a lambda): skipped; the loading side keeps the value it
  was constructed with.

Objects referenced twice (e.g. the propagation shared by ScaleGUN and its model) are written
once and stay shared after loading. Tensors are copied on save and on load, so a state dict is
a snapshot that later updates do not change.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib
import math
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

#: Tag key of encoded nodes.
TAG = '__tgu__'
#: Module prefixes whose classes may be rebuilt from their attributes.
REBUILDABLE = ('torch_geometric_unlearn.', 'torch.nn.modules.')
#: Version of the checkpoint format.
FORMAT_VERSION = 1


class Skipped:
    r"""Placeholder for a value that could not be written (e.g. a user's callable)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f'Skipped({self.what})'


def _qualname(cls: type) -> str:
    return f'{cls.__module__}:{cls.__qualname__}'


def _rebuildable(name: str) -> bool:
    return name.startswith(REBUILDABLE)


def _resolve(name: str) -> type:
    r"""The class named :obj:`module:qualname`; only classes of this package, :mod:`torch.nn`
    and PyG's data classes (never arbitrary code from a checkpoint)."""
    module, _, qual = name.partition(':')
    if not _rebuildable(module + '.'):
        raise ValueError(f'checkpoint names class {name!r}, which is not rebuilt from a '
                         'checkpoint (only classes of torch_geometric_unlearn and torch.nn)')
    obj: Any = importlib.import_module(module)
    for part in qual.split('.'):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f'checkpoint names {name!r}, which is not a class')
    return obj


def _is_plain_object(value: Any) -> bool:
    cls = type(value)
    return (cls.__module__ + '.').startswith('torch_geometric_unlearn.') \
        and hasattr(value, '__dict__') and not isinstance(value, type)


class Encoder:
    r"""Encodes Python objects into a :obj:`weights_only`-loadable tree (see module doc)."""

    def __init__(self) -> None:
        self._memo: Dict[int, int] = {}
        self._keep: List[Any] = []  # keeps memoised objects alive (stable ids)
        self._tensors: Dict[int, Tensor] = {}

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, str, torch.dtype, torch.device,
                                               torch.Size)):
            return value
        if isinstance(value, float):
            return value
        if isinstance(value, torch.nn.Parameter):
            return {TAG: 'param', 'data': self._tensor(value), 'grad': value.requires_grad}
        if isinstance(value, Tensor):
            return self._tensor(value)
        if isinstance(value, Skipped):
            return {TAG: 'skip', 'what': value.what}
        if isinstance(value, tuple) and not hasattr(value, '_fields'):
            return {TAG: 'tuple', 'items': [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, (set, frozenset)):
            return {TAG: 'set', 'items': [self.encode(v) for v in value]}
        if isinstance(value, dict) and type(value) in (dict, OrderedDict):
            return {TAG: 'odict' if isinstance(value, OrderedDict) else 'dict',
                    'items': [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        # Shared objects below: written once, then referenced.
        key = id(value)
        if key in self._memo:
            return {TAG: 'ref', 'id': self._memo[key]}
        if isinstance(value, (Data, HeteroData)):
            out = {TAG: 'data', 'cls': 'HeteroData' if isinstance(value, HeteroData) else 'Data',
                   'state': self.encode(value.to_dict())}
        elif isinstance(value, torch.nn.Module):
            out = self._module(value)
        elif dataclasses.is_dataclass(value) and _is_plain_object(value):
            out = {TAG: 'object', 'cls': _qualname(type(value)),
                   'state': self.encode(dict(value.__dict__))}
        elif _is_plain_object(value):
            out = {TAG: 'object', 'cls': _qualname(type(value)),
                   'state': self.encode(dict(value.__dict__))}
        else:
            return {TAG: 'skip', 'what': f'{type(value).__module__}.{type(value).__qualname__}'}
        self._memo[key] = len(self._memo)
        self._keep.append(value)
        out['id'] = self._memo[key]
        return out

    def _tensor(self, t: Tensor) -> Tensor:
        key = id(t)
        if key not in self._tensors:  # copies, and shared tensors stay shared
            self._tensors[key] = t.detach().clone()
            self._keep.append(t)
        return self._tensors[key]

    def _module(self, m: torch.nn.Module) -> Dict[str, Any]:
        name = _qualname(type(m))
        out: Dict[str, Any] = {TAG: 'module', 'cls': name, 'training': m.training,
                               'state_dict': self.encode(OrderedDict(m.state_dict()))}
        if _rebuildable(type(m).__module__ + '.'):
            out['attrs'] = self.encode({k: v for k, v in m.__dict__.items()
                                        if not k.startswith('_') and k != 'training'})
            out['params'] = self.encode(OrderedDict(m._parameters))
            out['buffers'] = self.encode(OrderedDict(m._buffers))
            out['non_persistent'] = sorted(m._non_persistent_buffers_set)
            out['modules'] = self.encode(OrderedDict(m._modules))
        return out


class Decoder:
    r"""Inverse of :class:`Encoder`. Modules of classes outside this package and
    :mod:`torch.nn` are rebuilt as copies of :obj:`template` (same class) loaded with their
    :obj:`state_dict`."""

    def __init__(self, template: Any = None) -> None:
        # Candidate templates by class: the given modules and all their sub-modules.
        self.templates: Dict[str, torch.nn.Module] = {}
        roots = template if isinstance(template, (list, tuple)) else [template]
        for root in roots:
            if isinstance(root, torch.nn.Module):
                for m in root.modules():
                    self.templates.setdefault(_qualname(type(m)), m)
        self._memo: Dict[int, Any] = {}
        self._tensors: Dict[int, Tensor] = {}

    def decode(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            key = id(value)
            if key not in self._tensors:
                self._tensors[key] = value.clone()
            return self._tensors[key]
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or TAG not in value:
            return value
        tag = value[TAG]
        if tag == 'param':
            return torch.nn.Parameter(self.decode(value['data']), requires_grad=value['grad'])
        if tag == 'skip':
            return Skipped(value['what'])
        if tag == 'tuple':
            return tuple(self.decode(v) for v in value['items'])
        if tag == 'set':
            return set(self.decode(v) for v in value['items'])
        if tag in ('dict', 'odict'):
            items = [(self.decode(k), self.decode(v)) for k, v in value['items']]
            return OrderedDict(items) if tag == 'odict' else dict(items)
        if tag == 'ref':
            if value['id'] not in self._memo:
                raise ValueError(f"corrupt checkpoint: reference to unknown object {value['id']}")
            return self._memo[value['id']]
        if tag == 'data':
            cls = HeteroData if value['cls'] == 'HeteroData' else Data
            out = cls.from_dict(self.decode(value['state']))
        elif tag == 'module':
            out = self._module(value)
        elif tag == 'object':
            cls = _resolve(value['cls'])
            out = cls.__new__(cls)
            self._memo[value['id']] = out  # before the state: cycles resolve to it
            out.__dict__.update(self.decode(value['state']))
            return out
        else:
            raise ValueError(f'corrupt checkpoint: unknown tag {tag!r}')
        self._memo[value['id']] = out
        return out

    def _module(self, value: Dict[str, Any]) -> torch.nn.Module:
        name = value['cls']
        tmpl = self.templates.get(name)
        if tmpl is not None and not _rebuildable(type(tmpl).__module__ + '.'):
            m = copy.deepcopy(tmpl)
            m.load_state_dict(self.decode(value['state_dict']))
            m.train(value['training'])
            return m
        if 'attrs' not in value:
            raise ValueError(f'cannot rebuild a module of class {name!r} from the checkpoint: '
                             'build the Unlearner with a model of that architecture')
        cls = _resolve(name)
        m = cls.__new__(cls)
        torch.nn.Module.__init__(m)
        m.training = value['training']
        self._memo[value['id']] = m
        for k, v in self.decode(value['attrs']).items():
            m.__dict__[k] = v
        for k, v in self.decode(value['params']).items():
            m._parameters[k] = v
        for k, v in self.decode(value['buffers']).items():
            m._buffers[k] = v
        m._non_persistent_buffers_set.update(value['non_persistent'])
        for k, v in self.decode(value['modules']).items():
            m._modules[k] = v
        return m


def encode(value: Any) -> Any:
    r"""Encodes :obj:`value` (see the module docstring)."""
    return Encoder().encode(value)


def decode(value: Any, template: Any = None) -> Any:
    r"""Decodes what :func:`encode` produced; :obj:`template` (a module or a list of modules)
    rebuilds modules of the user's architecture (copies of a template sub-module of the same
    class, loaded with the saved :obj:`state_dict`)."""
    return Decoder(template).decode(value)


# Comparison and size of states ###############################################

def state_difference(a: Any, b: Any, path: str = 'state',
                     ignore: Tuple[str, ...] = ('seconds', )) -> Optional[str]:
    r"""The path of the first difference between two encoded states (tensors compared
    exactly, dtype and shape included; NaNs equal), or :obj:`None` if they are equal.
    Entries of dicts whose key contains one of :obj:`ignore` (wall-clock timings) are not
    compared."""
    if isinstance(a, dict) and isinstance(b, dict) and a.get(TAG) in ('dict', 'odict') \
            and b.get(TAG) == a.get(TAG) and ignore:
        def keep(items: List[Any]) -> List[Any]:
            return [kv for kv in items if not (isinstance(kv[0], str) and any(
                w in kv[0] for w in ignore))]
        a = {**a, 'items': keep(a['items'])}
        b = {**b, 'items': keep(b['items'])}
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
            return f'{path}: tensor vs {type(b if isinstance(a, Tensor) else a).__name__}'
        if a.dtype != b.dtype or a.shape != b.shape or a.layout != b.layout:
            return f'{path}: {a.dtype}{tuple(a.shape)} vs {b.dtype}{tuple(b.shape)}'
        if a.layout != torch.strided:
            a, b = a.to_dense(), b.to_dense()
        if not torch.equal(a.cpu(), b.cpu()):
            if a.is_floating_point() and torch.equal(a.isnan().cpu(), b.isnan().cpu()) and \
                    torch.equal(a.nan_to_num().cpu(), b.nan_to_num().cpu()):
                return None
            return f'{path}: values differ'
        return None
    if type(a) is not type(b):
        return f'{path}: {type(a).__name__} vs {type(b).__name__}'
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()):
            return f'{path}: keys {sorted(map(str, a.keys()))} vs {sorted(map(str, b.keys()))}'
        for k in a:
            diff = state_difference(a[k], b[k], f'{path}.{k}', ignore)
            if diff is not None:
                return diff
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f'{path}: length {len(a)} vs {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            diff = state_difference(x, y, f'{path}[{i}]', ignore)
            if diff is not None:
                return diff
        return None
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return None
    return None if a == b else f'{path}: {a!r} vs {b!r}'


def state_nbytes(state: Any) -> int:
    r"""Bytes of the tensors of an encoded state (each storage counted once): the persistent
    memory of an unlearning state, a noise-free measure of its growth."""
    seen: Dict[Tuple[int, int], int] = {}

    def walk(v: Any) -> None:
        if isinstance(v, Tensor):
            if v.layout == torch.strided:
                key = (v.untyped_storage().data_ptr(), v.device.index or 0)
                seen[key] = max(seen.get(key, 0), v.untyped_storage().nbytes())
            else:
                seen[(id(v), -1)] = sum(t.numel() * t.element_size() for t in (
                    [v.values(), v.crow_indices(), v.col_indices()] if v.layout ==
                    torch.sparse_csr else [v.coalesce().values(), v.coalesce().indices()]))
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(state)
    return int(sum(seen.values()))
