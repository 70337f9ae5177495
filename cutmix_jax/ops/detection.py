"""Detection boxes and keypoints under a rectangular paste (CutMix, SaliencyMix).

An image keeps what stays visible of its own objects and gains the partner's objects inside the
pasted rectangle. Boxes are `(y1, x1, y2, x2)` in pixels (continuous: a box covers
`y1 <= y <= y2`), padded to a fixed count per image with a validity mask, so the output is a
fixed-size set that `jit` can carry: the image's own `M` boxes, then its partner's `M`.

- own box: its visible part is the box minus the pasted rectangle. Where the rectangle covers the
  box's whole height (width) and one side of it, the box shrinks to what is left; a hole in the
  middle or a corner leaves the box as it was (its visible part still spans it). A box whose
  visible area falls below `min_visible` of its own area is dropped.
- partner box: clipped to the pasted rectangle, dropped by the same rule.
- keypoints `(y, x)` with visibility: own points inside the rectangle become invisible, the
  partner's points inside it are added as visible.
"""

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

MIN_VISIBLE = 0.25  # the share of a box's area that must stay visible for it to be kept


class Boxes(NamedTuple):
  """Object boxes of each image of a batch, padded to `M` per image.

  Attributes:
    coords: float `(N, M, 4)` as `(y1, x1, y2, x2)` in pixels.
    valid: bool `(N, M)`, False on padding.
    labels: optional int `(N, M)`, the class of each box.
  """

  coords: jax.Array
  valid: jax.Array
  labels: Optional[jax.Array] = None


class Keypoints(NamedTuple):
  """Keypoints of each image of a batch, `P` per image.

  Attributes:
    coords: float `(N, P, 2)` as `(y, x)` in pixels.
    visible: bool `(N, P)`.
  """

  coords: jax.Array
  visible: jax.Array


def _paste_edges(paste):
  """The pasted rectangle `(y1, y2, x1, x2)` (half-open pixel rows / columns, scalars or `(N,)`)
  as float `(N or 1, 1)` edges, to broadcast against `(N, M)` boxes."""
  return tuple(jnp.reshape(jnp.asarray(edge, jnp.float32), (-1, 1)) for edge in paste)


def _area(y1, x1, y2, x2):
  return jnp.maximum(y2 - y1, 0.0) * jnp.maximum(x2 - x1, 0.0)


def _cut_side(low, high, paste_low, paste_high, covers_other_axis):
  """One axis of a box `[low, high]` after a paste `[paste_low, paste_high]` that spans the
  box along the other axis (`covers_other_axis`): a side covered by the paste moves to the
  paste's far edge; a paste strictly inside leaves both sides."""
  overlaps = covers_other_axis & (paste_low < high) & (paste_high > low)
  new_low = jnp.where(overlaps & (paste_low <= low), jnp.minimum(paste_high, high), low)
  new_high = jnp.where(overlaps & (paste_high >= high), jnp.maximum(paste_low, low), high)
  return new_low, new_high


def _own_boxes(boxes: Boxes, paste, min_visible: float) -> Boxes:
  """The image's own boxes after the paste: shrunk where a side is covered, dropped if too
  little stays visible."""
  py1, py2, px1, px2 = _paste_edges(paste)
  y1, x1, y2, x2 = (boxes.coords[..., i] for i in range(4))
  area = _area(y1, x1, y2, x2)
  inter = _area(
      jnp.maximum(y1, py1), jnp.maximum(x1, px1), jnp.minimum(y2, py2), jnp.minimum(x2, px2)
  )
  visible = area - inter
  covers_y = (py1 <= y1) & (py2 >= y2)
  covers_x = (px1 <= x1) & (px2 >= x2)
  new_x1, new_x2 = _cut_side(x1, x2, px1, px2, covers_y)
  new_y1, new_y2 = _cut_side(y1, y2, py1, py2, covers_x)
  keep = boxes.valid & (visible > 0) & (visible >= min_visible * area)
  coords = jnp.stack([new_y1, new_x1, new_y2, new_x2], axis=-1)
  return Boxes(coords, keep, boxes.labels)


def _partner_boxes(boxes: Boxes, paste, min_visible: float) -> Boxes:
  """The partner's boxes clipped to the pasted rectangle, dropped if too little is inside."""
  py1, py2, px1, px2 = _paste_edges(paste)
  y1, x1, y2, x2 = (boxes.coords[..., i] for i in range(4))
  area = _area(y1, x1, y2, x2)
  clipped = (jnp.maximum(y1, py1), jnp.maximum(x1, px1), jnp.minimum(y2, py2), jnp.minimum(x2, px2))
  inside = _area(*clipped)
  keep = boxes.valid & (inside > 0) & (inside >= min_visible * area)
  coords = jnp.stack([jnp.where(keep, c, 0.0) for c in clipped], axis=-1)
  return Boxes(coords, keep, boxes.labels)


def _concat(first, second):
  if first is None:
    return None
  return jnp.concatenate([first, second], axis=1)


def paste_boxes(boxes: Boxes, partner: Boxes, paste, min_visible: float = MIN_VISIBLE) -> Boxes:
  """`(N, 2M)` boxes of the mixed images: their own `M` as the paste left them, then the
  partner's `M` inside it (see the module docstring).

  Args:
    boxes: each image's boxes.
    partner: each image's partner's boxes (`pairing.take` of every field).
    paste: the pasted rectangle `(y1, y2, x1, x2)`, half-open pixels, scalars or `(N,)`.
    min_visible: the share of a box's area that must stay visible (own) or inside (partner).
  """
  own, theirs = _own_boxes(boxes, paste, min_visible), _partner_boxes(partner, paste, min_visible)
  return Boxes(*(_concat(a, b) for a, b in zip(own, theirs)))


def paste_keypoints(points: Keypoints, partner: Keypoints, paste) -> Keypoints:
  """`(N, 2P)` keypoints: the image's own, invisible inside the paste, then the partner's,
  visible only inside it."""
  py1, py2, px1, px2 = _paste_edges(paste)

  def inside(coords):
    y, x = coords[..., 0], coords[..., 1]
    return (y >= py1) & (y < py2) & (x >= px1) & (x < px2)

  visible = jnp.concatenate(
      [points.visible & ~inside(points.coords), partner.visible & inside(partner.coords)], axis=1
  )
  return Keypoints(jnp.concatenate([points.coords, partner.coords], axis=1), visible)


def is_geometric(extra) -> bool:
  """Whether an extra target of a mixing op is boxes or keypoints (not a dense map)."""
  return isinstance(extra, (Boxes, Keypoints))


def paste_geometric(extra, pairing, paste, min_visible: float = MIN_VISIBLE):
  """Boxes or keypoints after pasting rectangle `paste` from each image's partner."""
  partner = type(extra)(*(None if v is None else pairing.take(v) for v in extra))
  if isinstance(extra, Boxes):
    return paste_boxes(extra, partner, paste, min_visible)
  return paste_keypoints(extra, partner, paste)
