"""Class activation maps (Zhou et al., 2016): where the features vote for a class.

A model's final feature map `(N, h, w, c)` (sown as `intermediates/features`) is weighted by the
column of its linear `head` kernel that belongs to the class, summed over channels, upsampled
bilinearly to the image and normalized to [0, 1] per image. With global average pooling before
the head, the mean of the unnormalized map plus the head bias is exactly the class logit.
"""

import jax
import jax.numpy as jnp


def normalize_maps(maps) -> jax.Array:
  """ReLU, then min-max scaling to [0, 1] per map; a constant map becomes all zeros.

  Args:
    maps: `(N, H, W)` float.

  Returns:
    `(N, H, W)` float32 in [0, 1]; the maximum of every non-constant map is exactly 1.
  """
  maps = jax.nn.relu(maps.astype(jnp.float32))
  low = jnp.min(maps, axis=(1, 2), keepdims=True)
  span = jnp.max(maps, axis=(1, 2), keepdims=True) - low
  safe_span = jnp.where(span > 0, span, 1.0)
  return jnp.where(span > 0, (maps - low) / safe_span, 0.0)


def class_activation_maps(features, head_kernel, classes, image_size) -> jax.Array:
  """Normalized CAMs of one class per image, at image resolution.

  Args:
    features: `(N, h, w, c)` final feature maps.
    head_kernel: `(c, K)` kernel of the linear classifier.
    classes: `(N,)` int class of each image's map.
    image_size: `(H, W)` to upsample to (bilinear, half-pixel centres).

  Returns:
    `(N, H, W)` float32 maps in [0, 1].
  """
  weights = jnp.take(head_kernel.astype(jnp.float32).T, classes, axis=0)  # (N, c)
  maps = jnp.einsum('nhwc,nc->nhw', features.astype(jnp.float32), weights)
  maps = jax.image.resize(maps, (maps.shape[0],) + tuple(image_size), method='bilinear')
  return normalize_maps(maps)


def cam_values(model, batch, key):
  """Predictions and CAMs of a per-device eval batch (the per-batch work of `eval_driver`).

  Args:
    model: a `eval_driver.EvalModel` whose parameters have a `head`.
    batch: `{'image': (B, H, W, C) uint8, 'label': (B,), ...}`.
    key: unused.

  Returns:
    dict of `predicted (B,)` int, `cam_predicted (B, H, W)` (the CAM of the predicted class,
    for top-1 localization) and `cam_true (B, H, W)` (of the true class, for GT-known).
  """
  del key
  logits, features = model.logits_and_features(batch['image'])
  predicted = jnp.argmax(logits, axis=-1)
  kernel, size = model.state.params['head']['kernel'], batch['image'].shape[1:3]
  return {
      'predicted': predicted,
      'cam_predicted': class_activation_maps(features, kernel, predicted, size),
      'cam_true': class_activation_maps(features, kernel, batch['label'], size),
  }
