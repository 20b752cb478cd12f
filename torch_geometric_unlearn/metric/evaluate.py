"""One call that evaluates an unlearning result against the original and the retrained model:
utility, membership inference (node, edge, recommendation) and distance to Retrain.

Query protocol (documented in ``docs/evaluation.md``):

* node-level attacks query every model on the *original* graph (the attacker supplies the
  target node's features and neighbourhood, as in He et al. 2021); on the retained graph the
  removed nodes are isolated zero rows and would be trivially recognisable;
* edge-level attacks query the original model on the original graph and the unlearned /
  retrained models on the retained graph (the graph they are deployed on);
* distance to Retrain compares the unlearned and retrained models on the retained graph, over
  its non-removed nodes, and on the forget nodes (original graph) for node requests.

Every metric that cannot be computed for the task or request is set to :obj:`None` with a
``*_note`` field saying why (never silently skipped).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from torch_geometric_unlearn.attack.edge import edge_mia_auc, posterior_shift_auc, \
    sample_non_edges
from torch_geometric_unlearn.attack.shadow import ShadowMIA
from torch_geometric_unlearn.attack.threshold import threshold_mia_auc
from torch_geometric_unlearn.metric.forgetting import distance_to_retrain, parameter_distance
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.transforms.functional import REMOVED_MASK

ModelOrResult = Union[UnlearningResult, torch.nn.Module]

#: Threshold scores reported by :func:`evaluate_unlearning`.
THRESHOLD_SCORES = ('confidence', 'loss', 'entropy')


def _unpack(obj: Optional[ModelOrResult], data: Any, request: Any
            ) -> Tuple[Optional[torch.nn.Module], Any]:
    if obj is None:
        return None, None
    if isinstance(obj, UnlearningResult):
        return obj.model, obj.data
    return obj, request.apply(data)


def _node_members(data: Any, request: Any) -> Tuple[Tensor, Optional[str]]:
    idx = request.node_index.cpu().long()
    train = data.train_mask.cpu()[idx]
    note = None
    if not bool(train.all()):
        note = f'{int((~train).sum())} requested nodes were not training nodes (left out)'
    return idx[train], note


def default_non_members(data: Any) -> Tuple[Tensor, Optional[str]]:
    r"""Never-trained nodes the node attacks compare the removed nodes with: the labelled test
    nodes; when the split has none (e.g. a Planetoid-style split of a graph smaller than
    train + 500 validation + 1000 test nodes), every labelled node outside :obj:`train_mask`,
    with a note saying so."""
    labelled = data.y.cpu() >= 0
    train = data.train_mask.cpu()
    test = data.get('test_mask')
    if test is not None:
        non = (test.cpu() & labelled & ~train).nonzero().view(-1)
        if non.numel() > 0:
            return non, None
    non = (labelled & ~train).nonzero().view(-1)
    return non, (f'the split has no test nodes: non-members are the {non.numel()} labelled '
                 'nodes outside train_mask (validation/unlabelled nodes, never trained on)')


def _a(kind: str) -> str:
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _fill_none(out: Dict[str, Any], keys: Tuple[str, ...], note_key: str, why: str) -> None:
    for k in keys:
        out[k] = None
    out[note_key] = why


def evaluate_unlearning(task: Any, data: Any, original: torch.nn.Module,
                        unlearned: ModelOrResult, retrained: Optional[ModelOrResult] = None,
                        request: Any = None, *, shadow: bool = True,
                        shadow_attack: Optional[ShadowMIA] = None,
                        non_members: Optional[Tensor] = None, seed: int = 0,
                        num_negatives: Optional[int] = None, return_scores: bool = False,
                        cache: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    r"""Evaluates an unlearned model: utility of the original, unlearned and retrained models,
    node membership inference (shadow-model attack of He et al. 2021 and threshold attacks),
    unlearning-detection (posterior-shift) AUC, StealLink-style edge MIA, the recommendation
    metrics MI-BF / MI-NG of UnlearnRec, link prediction's membership attack (the removed
    edges' decoder scores against held-out test edges'), and distance to Retrain.

    Args:
        task (Task): :class:`NodeClassificationTask`, :class:`RecommendationTask` or
            :class:`LinkPredictionTask`.
        data (Data or HeteroData): The original graph (before the request).
        original (torch.nn.Module): The model trained on :obj:`data`.
        unlearned (UnlearningResult or torch.nn.Module): The unlearned model (a bare module
            is evaluated on :obj:`request.apply(data)`).
        retrained (UnlearningResult or torch.nn.Module, optional): The Retrain reference.
        request (UnlearningRequest, optional): The request (default: :obj:`unlearned.request`).
        shadow (bool, optional): Run the shadow-model node attack (trains one shadow model,
            unless :obj:`shadow_attack` is given). (default: :obj:`True`)
        shadow_attack (ShadowMIA, optional): An already fitted attack to reuse.
        non_members (torch.Tensor, optional): Never-trained node ids (default: the labelled
            test nodes, or every labelled non-training node when the split has no test
            nodes; see :func:`default_non_members`).
        seed (int, optional): Seed of shadow split, non-edge and negative sampling.
            (default: :obj:`0`)
        num_negatives (int, optional): Non-edges / negative interactions sampled (default:
            as many as removed, at least 1000).
        return_scores (bool, optional): Add per-entity score arrays for plots.
            (default: :obj:`False`)
        cache (dict, optional): Shared between calls with the same original model and request
            (e.g. several algorithms): reuses original-model outputs and the shadow attack.

    Returns:
        A flat dict (JSON-friendly): :obj:`utility_original`, :obj:`utility_unlearned`,
        :obj:`utility_retrain`, :obj:`mia_auc` (+ :obj:`_before`, :obj:`_retrain`; the
        shadow attack when it ran, else the confidence threshold attack, named in
        :obj:`mia_attack`), :obj:`mia_shadow_auc` and
        :obj:`mia_{confidence,loss,entropy}_auc` (+ suffixes), :obj:`posterior_shift_auc`,
        :obj:`edge_mia_auc`, :obj:`mi_bf`, :obj:`mi_ng`, :obj:`agreement_with_retrain`,
        :obj:`kl_to_retrain`, :obj:`js_to_retrain`, :obj:`param_l2_to_retrain`, and
        :obj:`*_note` fields explaining every :obj:`None`.
    """
    if request is None:
        if not isinstance(unlearned, UnlearningResult):
            raise ValueError('give request= when unlearned is a bare model')
        request = unlearned.request
    cache = {} if cache is None else cache
    model_u, data_u = _unpack(unlearned, data, request)
    model_r, data_r = _unpack(retrained, data, request)
    out: Dict[str, Any] = {}
    if 'utility_original' not in cache:
        cache['utility_original'] = task.evaluate(original, data)
    out['utility_original'] = cache['utility_original']
    out['utility_unlearned'] = task.evaluate(model_u, data_u)
    out['utility_retrain'] = task.evaluate(model_r, data_r) if model_r is not None else None
    if model_r is None:
        out['retrain_note'] = 'no retrained model given: *_retrain fields are None'
    name = getattr(task, 'name', '')
    if name == 'node_classification':
        _node_metrics(out, task, data, original, model_u, data_u, model_r, data_r, request,
                      shadow, shadow_attack, non_members, seed, num_negatives, return_scores,
                      cache)
        _fill_none(out, ('mi_bf', 'mi_ng'), 'mi_note',
                   'MI-BF/MI-NG are recommendation metrics (UnlearnRec); task is '
                   'node_classification')
    elif name == 'link_prediction':
        _link_metrics(out, task, data, original, model_u, data_u, model_r, data_r, request,
                      seed, num_negatives, return_scores, cache)
    elif name == 'recommendation':
        _recsys_metrics(out, task, data, original, model_u, data_u, model_r, data_r, request,
                        seed, num_negatives, return_scores, cache)
    else:
        raise ValueError(f"evaluate_unlearning does not know task '{name}'")
    return out


# Node classification #########################################################

def _node_metrics(out, task, data, original, model_u, data_u, model_r, data_r, request,
                  shadow, shadow_attack, non_members, seed, num_negatives, return_scores,
                  cache) -> None:
    y = data.y
    non_note = None
    if non_members is None:
        non, non_note = default_non_members(data)
    else:
        non = non_members.cpu().long()
    if 'proba_original' not in cache:
        cache['proba_original'] = task.predict_proba(original, data).cpu()
    p_orig = cache['proba_original']
    p_u = task.predict_proba(model_u, data).cpu()          # original-graph queries
    p_r = task.predict_proba(model_r, data).cpu() if model_r is not None else None

    # Distance to Retrain on the retained graph (non-removed nodes).
    if model_r is not None:
        q_u = task.predict_proba(model_u, data_u).cpu()
        q_r = task.predict_proba(model_r, data_r).cpu()
        removed = data_u.get(REMOVED_MASK)
        keep = ~removed.cpu() if removed is not None else None
        out.update(distance_to_retrain(q_u, q_r, model_u, model_r, keep))
        if out['param_l2_to_retrain'] is None:
            out['param_l2_note'] = 'architectures differ: parameter L2 not comparable'
        else:
            if 'param_l2_original' not in cache:
                cache['param_l2_original'] = parameter_distance(original, model_r)
            out['param_l2_original_to_retrain'] = cache['param_l2_original']
    else:
        _fill_none(out, ('agreement_with_retrain', 'kl_to_retrain', 'js_to_retrain',
                         'param_l2_to_retrain'), 'distance_note', 'no retrained model given')

    # Node membership inference.
    if request.kind in ('node', 'feature'):
        members, note = _node_members(data, request)
        if note:
            out['mia_members_note'] = note
        if non_note:
            out['mia_non_members_note'] = non_note
        models = {'': p_u, '_before': p_orig, '_retrain': p_r}
        if members.numel() == 0 or non.numel() == 0:
            why = (f'none of the {request.node_index.numel()} requested nodes is a training '
                   'node (no members to attack)') if members.numel() == 0 else \
                'no never-trained labelled node to use as non-member'
            _fill_none(out, tuple(f'mia_{s}auc{x}' for s in ('', 'shadow_') for x in models) +
                       ('posterior_shift_auc',), 'mia_note', why)
        else:
            for score in THRESHOLD_SCORES:
                for suffix, p in models.items():
                    out[f'mia_{score}_auc{suffix}'] = None if p is None else \
                        threshold_mia_auc(p, y.cpu(), members, non, score)
            attack = shadow_attack if shadow_attack is not None else cache.get('shadow_attack')
            shadow_note = None
            if not shadow and shadow_attack is None:
                attack = None
                shadow_note = 'shadow attack skipped (shadow=False / --no-shadow-mia)'
            elif attack is None:
                try:
                    attack = ShadowMIA(seed=seed).fit(task, original, data,
                                                      exclude=torch.cat([members, non]))
                    cache['shadow_attack'] = attack
                except ValueError as e:
                    shadow_note = f'shadow attack could not run: {e}'
            for suffix, p in models.items():
                out[f'mia_shadow_auc{suffix}'] = None if (p is None or attack is None) else \
                    attack.auc(p, members, non)
            if attack is not None:
                for suffix in models:
                    out[f'mia_auc{suffix}'] = out[f'mia_shadow_auc{suffix}']
                out['mia_attack'] = ('shadow model (He et al. 2021), MLP on sorted posteriors; '
                                     'removed training nodes vs never-trained nodes, original '
                                     'graph')
                out['mia_shadow_train_auc'] = attack.shadow_train_auc
            else:
                for suffix in models:
                    out[f'mia_auc{suffix}'] = out[f'mia_confidence_auc{suffix}']
                out['mia_attack'] = ('threshold(confidence): removed training nodes vs '
                                     'never-trained nodes, original graph')
                out['mia_shadow_note'] = f'{shadow_note}; mia_auc is the threshold(confidence) ' \
                                         'attack'
            out['posterior_shift_auc'] = posterior_shift_auc(p_orig, p_u, members, non)
            out['posterior_shift_auc_retrain'] = None if p_r is None else \
                posterior_shift_auc(p_orig, p_r, members, non)
            if model_r is not None:
                fm = torch.zeros(p_u.size(0), dtype=torch.bool)
                fm[members] = True
                out.update({f'{k}_forget': v for k, v in
                            distance_to_retrain(p_u, p_r, mask=fm).items()
                            if k != 'param_l2_to_retrain'})
            if return_scores:
                out['mia_scores'] = {
                    'members_confidence': p_u[members, y.cpu()[members]].tolist(),
                    'non_members_confidence': p_u[non, y.cpu()[non].clamp_min(0)].tolist()}
    else:
        _fill_none(out, ('mia_auc', 'mia_shadow_auc', 'posterior_shift_auc'), 'mia_note',
                   f'node MIA needs removed nodes; not defined for {_a(request.kind)} request')

    # Edge membership inference (StealLink).
    if request.kind == 'edge':
        _steal_link(out, data, p_orig, task.predict_proba(model_u, data_u).cpu(),
                    None if model_r is None else task.predict_proba(model_r, data_r).cpu(),
                    request, seed, num_negatives, cache, 'posteriors')
    else:
        _fill_none(out, ('edge_mia_auc',), 'edge_mia_note',
                   f'edge MIA needs removed edges; not defined for {_a(request.kind)} request')


def _steal_link(out: Dict[str, Any], data: Any, z_orig: Tensor, z_u: Tensor,
                z_r: Optional[Tensor], request: Any, seed: int, num_negatives: Optional[int],
                cache: Dict[str, Any], what: str) -> None:
    r"""StealLink (unsupervised): cosine similarity of the endpoints' rows of :obj:`z_*`
    (:obj:`what`: posteriors or embeddings), removed edges against seeded non-edges of the
    original graph; the original model on :obj:`data`, the others on their served graphs."""
    removed_e = request.edge_index.cpu()
    k = max(removed_e.size(1), 1000) if num_negatives is None else num_negatives
    key = ('non_edges', k)
    if key not in cache:
        gen = torch.Generator().manual_seed(seed)
        cache[key] = sample_non_edges(data.edge_index.cpu(), data.num_nodes, k, gen)
    non_e = cache[key]
    if 'edge_mia_before' not in cache:
        cache['edge_mia_before'] = edge_mia_auc(z_orig, removed_e, non_e)
    out['edge_mia_auc_before'] = cache['edge_mia_before']
    out['edge_mia_auc'] = edge_mia_auc(z_u, removed_e, non_e)
    out['edge_mia_auc_retrain'] = None if z_r is None else edge_mia_auc(z_r, removed_e, non_e)
    out['edge_mia_attack'] = (f'StealLink unsupervised: cosine similarity of endpoint {what}, '
                              'removed edges vs sampled non-edges')


# Link prediction #############################################################

def _link_metrics(out, task, data, original, model_u, data_u, model_r, data_r, request, seed,
                  num_negatives, return_scores, cache) -> None:
    from torch_geometric_unlearn.metric.classification import roc_auc
    from torch_geometric_unlearn.task.link import undirected_pairs
    if 'emb_original' not in cache:
        cache['emb_original'] = task.embeddings(original, data).cpu()
    z0 = cache['emb_original']  # the original model on G
    z_u = task.embeddings(model_u, data_u).cpu()  # the others on the graph they serve
    z_r = task.embeddings(model_r, data_r).cpu() if model_r is not None else None
    _fill_none(out, ('mia_shadow_auc', 'posterior_shift_auc'), 'mia_shadow_note',
               'the shadow and posterior-shift attacks are defined on class posteriors; task '
               'is link_prediction (mia_auc is the link-score attack)')
    _fill_none(out, ('mi_bf', 'mi_ng'), 'mi_note',
               'MI-BF/MI-NG are recommendation metrics (UnlearnRec); task is link_prediction')

    def prob(z: Tensor, pairs: Tensor) -> Tensor:
        return torch.sigmoid(task.score(z, pairs))

    # Distance to Retrain: the decoder's probabilities of the retained graph's test pairs.
    test_pos, test_neg = task.held_out(data_u, 'test')
    test_pos, test_neg = test_pos.cpu(), test_neg.cpu()
    if model_r is not None:
        pairs = torch.cat([test_pos, test_neg], dim=1)
        p_u, p_r = prob(z_u, pairs), prob(z_r, pairs)
        out.update(distance_to_retrain(torch.stack([1 - p_u, p_u], -1),
                                       torch.stack([1 - p_r, p_r], -1), model_u, model_r))
        out['distance_note'] = ('decoder probabilities of the test edges and non-edges '
                                '(retained graph)')
    else:
        _fill_none(out, ('agreement_with_retrain', 'kl_to_retrain', 'js_to_retrain',
                         'param_l2_to_retrain'), 'distance_note', 'no retrained model given')

    if request.kind == 'edge':
        # Membership: the removed training edges against held-out true edges (never trained
        # on): a model that forgot them scores them like unseen edges (Retrain's level), one
        # that memorised them higher.
        removed = undirected_pairs(request.edge_index.cpu())
        if test_pos.size(1) == 0 or removed.size(1) == 0:
            _fill_none(out, ('mia_auc', 'mia_auc_before', 'mia_auc_retrain'), 'mia_note',
                       'no held-out test edge or no removed edge to compare')
        else:
            def mia(z: Tensor) -> float:
                return roc_auc(task.score(z, removed), task.score(z, test_pos))
            if 'link_mia_before' not in cache:
                cache['link_mia_before'] = mia(z0)
            out['mia_auc_before'] = cache['link_mia_before']
            out['mia_auc'] = mia(z_u)
            out['mia_auc_retrain'] = None if z_r is None else mia(z_r)
            out['mia_attack'] = ('link score: decoder probability of the removed training '
                                 'edges vs held-out test edges (true edges never trained on); '
                                 "the original model on G, the others on G'")
            if return_scores:
                out['mia_scores'] = {'members_probability': prob(z_u, removed).tolist(),
                                     'non_members_probability': prob(z_u, test_pos).tolist()}
        _steal_link(out, data, z0, z_u, z_r, request, seed, num_negatives, cache,
                    'embeddings')
    else:
        _fill_none(out, tuple(f'{m}{x}' for m in ('mia_auc', 'edge_mia_auc')
                              for x in ('', '_before', '_retrain')), 'mia_note',
                   f'the link attacks need removed edges; not defined for '
                   f'{_a(request.kind)} request')


# Recommendation ##############################################################

def _recsys_metrics(out, task, data, original, model_u, data_u, model_r, data_r, request,
                    seed, num_negatives, return_scores, cache) -> None:
    from torch_geometric_unlearn.attack.recsys import recsys_membership, \
        sample_negative_interactions
    from torch_geometric_unlearn.task.recommendation import get_interactions, num_users_items
    U, I = num_users_items(data)
    if 'emb_original' not in cache:
        cache['emb_original'] = task.embeddings(original, data).cpu()
    e0 = cache['emb_original']
    e_u = task.embeddings(model_u, data_u).cpu()
    e_r = task.embeddings(model_r, data_r).cpu() if model_r is not None else None
    _fill_none(out, ('mia_auc', 'mia_shadow_auc', 'posterior_shift_auc'), 'mia_note',
               'node MIA is defined on class posteriors; task is recommendation '
               '(see mi_bf / mi_ng / edge_mia_auc)')
    if request.kind == 'interaction':
        removed = request.edge_index.cpu().long()
        k = max(removed.size(1), 1000) if num_negatives is None else num_negatives
        key = ('negatives', k)
        if key not in cache:
            gen = torch.Generator().manual_seed(seed)
            users = removed[0][torch.randint(removed.size(1), (k,), generator=gen)]
            cache[key] = sample_negative_interactions(get_interactions(data, 'train'), users,
                                                      I, gen)
        neg = cache[key]
        pos = get_interactions(data_u, 'train').cpu()
        res = recsys_membership(e0[:U], e0[U:], e_u[:U], e_u[U:], removed, neg, pos,
                                return_scores)
        out['mi_bf'], out['mi_ng'] = res['mi_bf'], res['mi_ng']
        out['mi_ng_before'] = res['mi_ng_before']
        out['edge_mia_auc'] = res['interaction_mia_auc']
        out['edge_mia_attack'] = 'sigmoid(e_u . e_i) of removed interactions vs negatives'
        for f in ('removed_prob_before', 'removed_prob_after', 'negative_prob_after',
                  'positive_prob_after'):
            if f in res:
                out[f] = res[f]
        if return_scores:
            out['score_distributions'] = res['scores']
        if e_r is not None:
            rr = recsys_membership(e0[:U], e0[U:], e_r[:U], e_r[U:], removed, neg)
            out['mi_bf_retrain'], out['mi_ng_retrain'] = rr['mi_bf'], rr['mi_ng']
            out['edge_mia_auc_retrain'] = rr['interaction_mia_auc']
    else:
        _fill_none(out, ('mi_bf', 'mi_ng', 'edge_mia_auc'), 'mi_note',
                   f'MI-BF/MI-NG need removed interactions; not defined for a {request.kind} '
                   'request')
    if e_r is not None:
        # Top-20 recommendation overlap with Retrain over (up to) 1024 users.
        gen = torch.Generator().manual_seed(seed)
        users = torch.randperm(U, generator=gen)[:1024]
        k = min(20, I)
        top_u = (e_u[users] @ e_u[U:].t()).topk(k, dim=-1).indices
        top_r = (e_r[users] @ e_r[U:].t()).topk(k, dim=-1).indices
        overlap = (top_u.unsqueeze(-1) == top_r.unsqueeze(-2)).any(-1).float().mean()
        out['agreement_with_retrain'] = float(overlap)
        out['agreement_note'] = 'top-20 recommendation overlap with Retrain (1024 users max)'
        out['param_l2_to_retrain'] = parameter_distance(model_u, model_r)
        out['kl_to_retrain'] = out['js_to_retrain'] = None
        out['distance_note'] = 'KL/JS need class posteriors; not defined for recommendation'
    else:
        _fill_none(out, ('agreement_with_retrain', 'kl_to_retrain', 'js_to_retrain',
                         'param_l2_to_retrain'), 'distance_note', 'no retrained model given')
