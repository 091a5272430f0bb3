r"""Gradient embeddings of a detector's last classification layer, in
closed form (BADGE, Ash et al., 2020, for detection boxes).

For one box, let ``h`` ``(D, )`` be the input of the last classification
layer that produces the box's logits ``z`` ``(L, )``, ``z = W h + b``
(``W`` ``(L, D)``), and ``y`` the model's own most likely label,
``argmax_c z_c``, taken as the target (a constant). The gradient of the
box's classification loss w.r.t. ``W`` is the outer product

    dLoss/dW = g h^T,   g = dLoss/dz  (L, ),

flattened to ``(L * D, )``; :func:`logit_grad` gives ``g`` for the losses
mmdet detectors use:

- softmax cross-entropy over ``L`` logits (a two-stage RoI head, with the
  background as the last logit; a softmax dense head):
  ``g = softmax(z) - onehot(y)``;
- sigmoid focal loss (RetinaNet; ``alpha``, ``gamma``), per class ``c``
  with ``p = sigmoid(z_c)``, ``t = [c == y]``, ``p_t = p`` if ``t`` else
  ``1 - p`` and ``a_t = alpha`` if ``t`` else ``1 - alpha``:
  ``FL = -a_t (1 - p_t)^gamma log p_t`` and, as ``dp_t/dz_c = (2t - 1)
  p (1 - p) = (2t - 1) p_t (1 - p_t)``,

      g_c = (2t - 1) a_t (1 - p_t)^gamma (gamma p_t log p_t - (1 - p_t)),

  that is ``alpha (1-p)^gamma (gamma p log p + p - 1)`` for the label and
  ``(1-alpha) p^gamma (p - gamma (1-p) log(1-p))`` for the others;
- sigmoid binary cross-entropy (``gamma = 0``, no ``alpha`` weighting):
  ``g = sigmoid(z) - onehot(y)``.

A dense head's classification layer is a ``k x k`` convolution; the box of
anchor type ``a`` at cell ``(y, x)`` reads the layer input at ``(y, x)``
through the kernel's centre tap, so ``g h^T`` with ``h`` the input at that
cell is exactly the gradient w.r.t. the centre tap of anchor type a's ``L``
rows of the kernel; :func:`box_gradient_embedding` folds the ``A`` anchor
types onto one ``(L, D)`` block (the gradient of a centre tap shared by
the anchor types). An image's embedding is the mean over its top boxes:
the gradient of their mean loss.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

#: the losses :func:`logit_grad` knows
LOSSES = ('softmax', 'sigmoid')


def loss_spec(loss_module, use_sigmoid: bool) -> Dict[str, object]:
    """``dict(loss=..., gamma=..., alpha=...)`` of :func:`logit_grad` for
    an mmdet classification loss module.

    Args:
        loss_module (nn.Module): The head's ``loss_cls``.
        use_sigmoid (bool): Whether the head scores classes with sigmoids.

    Raises:
        NotImplementedError: A sigmoid loss other than ``FocalLoss`` and
            ``CrossEntropyLoss`` (no closed form here), named.
    """
    name = type(loss_module).__name__
    if not use_sigmoid:
        return dict(loss='softmax', gamma=0.0, alpha=None)
    if name == 'FocalLoss':
        return dict(loss='sigmoid', gamma=float(loss_module.gamma),
                    alpha=float(loss_module.alpha))
    if name == 'CrossEntropyLoss':
        return dict(loss='sigmoid', gamma=0.0, alpha=None)
    raise NotImplementedError(
        f'gradient embeddings know sigmoid FocalLoss and CrossEntropyLoss, '
        f'not {name}')


def logit_grad(logits: Tensor, loss: str, gamma: float = 0.0,
               alpha: Optional[float] = None) -> Tensor:
    """``dLoss/dz`` ``(n, L)`` of each row of ``logits`` ``(n, L)`` under
    its own most likely label (the row's argmax), see the module doc.

    Args:
        logits (Tensor): ``(n, L)`` raw scores.
        loss (str): ``'softmax'`` (cross-entropy over the row) or
            ``'sigmoid'`` (per-class focal loss; BCE when ``gamma == 0``
            and ``alpha`` is None).
        gamma (float): Focal exponent (sigmoid only). Defaults to 0.
        alpha (float, optional): Focal weight of the label class (``1 -
            alpha`` for the others); None weighs all 1. Defaults to None.
    """
    if loss not in LOSSES:
        raise ValueError(f'loss must be one of {LOSSES}, got {loss!r}')
    logits = logits.float()
    target = torch.zeros_like(logits)
    if len(logits):
        target.scatter_(1, logits.argmax(dim=1, keepdim=True), 1.0)
    if loss == 'softmax':
        return logits.softmax(dim=1) - target
    p = logits.sigmoid()
    if gamma == 0 and alpha is None:
        return p - target
    p_t = torch.where(target > 0, p, 1 - p)
    a_t = (torch.ones_like(p) if alpha is None else torch.where(
        target > 0, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha)))
    log_p_t = torch.log(p_t.clamp(min=torch.finfo(p_t.dtype).tiny))
    return ((2 * target - 1) * a_t * (1 - p_t).pow(gamma) *
            (gamma * p_t * log_p_t - (1 - p_t)))


def box_gradient_embedding(grads: Tensor, inputs: Tensor) -> Tensor:
    """The mean over boxes of ``g_b h_b^T``, flattened: ``(L * D, )``.

    Args:
        grads (Tensor): ``(n, L)`` per-box :func:`logit_grad`.
        inputs (Tensor): ``(n, D)`` per-box classification-layer input.

    Returns:
        Tensor: ``(L * D, )`` float32, zeros when ``n == 0``.
    """
    grads, inputs = grads.float(), inputs.float()
    if not len(grads):
        return grads.new_zeros(grads.size(1) * inputs.size(1))
    return (grads.t() @ inputs).flatten() / len(grads)


def input_projection(dim: int, out_dim: int, device=None) -> Tensor:
    """A fixed random ``(dim, out_dim)`` matrix of ``N(0, 1 / out_dim)``
    entries (torch generator seeded 0, drawn on the CPU): the same on every
    rank and run. For any ``M`` ``(L, dim)``, ``E ||M R||^2 = ||M||^2``, so
    ``g (h R)^T`` keeps squared distances between embeddings in
    expectation (Johnson-Lindenstrauss)."""
    gen = torch.Generator().manual_seed(0)
    proj = torch.randn(dim, out_dim, generator=gen) / out_dim**0.5
    return proj.to(device)


class ClsLayerTerms(NamedTuple):
    """What the gradient embedding of one image's boxes needs.

    Attributes:
        probs (Tensor): ``(n, C)`` class probabilities of the candidate
            boxes (no background column), to rank them.
        logits (Tensor): ``(n, L)`` the last classification layer's
            outputs for them (``L = C`` for sigmoid heads, ``C + 1`` with
            the background last for softmax ones).
        inputs (Tensor): ``(m, D)`` the layer's inputs; box ``k`` reads row
            ``k // boxes_per_input``.
        boxes_per_input (int): Boxes that share one input row (a dense
            head's anchor types at a cell, A; 1 for RoIs).
    """

    probs: Tensor
    logits: Tensor
    inputs: Tensor
    boxes_per_input: int


def layer_calls(layer: nn.Module, run: Callable[[], object]
                ) -> List[Tuple[Tensor, Tensor]]:
    """``(input, output)`` of every call of ``layer`` while ``run()``
    runs, in call order (a forward hook, removed afterwards)."""
    calls: List[Tuple[Tensor, Tensor]] = []
    handle = layer.register_forward_hook(
        lambda module, args, out: calls.append((args[0], out)))
    try:
        run()
    finally:
        handle.remove()
    return calls
