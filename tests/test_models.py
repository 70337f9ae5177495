"""Tests of the model zoo: exact sizes, dtypes, BatchNorm behaviour and feature-level CutMix.

Anything that computes uses small models (resnet_cifar20, a depth-11 PyramidNet) with variables
filled from numpy: on a 2-core CPU, `model.init` compiles one XLA program per parameter.
"""

import math
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cutmix_jax import models
from cutmix_jax.config.checks import ConfigError
from cutmix_jax.models import MODELS
from cutmix_jax.models import PyramidNet
from cutmix_jax.models import VisionTransformer
from cutmix_jax.models import get_model
from cutmix_jax.models import layers
from cutmix_jax.models import pyramidnet
from cutmix_jax.models import vit
from cutmix_jax.ops import boxes
from cutmix_jax.ops import cutmix as cutmix_lib
from cutmix_jax.ops import feature_mix
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops.feature_mix import FeatureMix
from cutmix_jax.training import losses
from cutmix_jax.training import run_config

# Trainable parameters (collection 'params': conv kernels, BN scale and bias, head kernel and
# bias), as (num_classes, count). ImageNet ResNets: torchvision's counts at 1000 classes. CIFAR
# nets: the official pyramidnet.py/resnet.py definitions re-stated in bench/torch_pyramidnet.py,
# counted with torch 2.13 (`python bench/torch_pyramidnet.py --num_classes 100`).
PARAMETER_COUNTS = {
    'resnet18': (1000, 11_689_512),
    'resnet34': (1000, 21_797_672),
    'resnet50': (1000, 25_557_032),
    'resnet101': (1000, 44_549_160),
    'resnet152': (1000, 60_192_808),
    'resnext50_32x4d': (1000, 25_028_904),  # torchvision's counts
    'resnext101_32x4d': (1000, 44_177_704),
    'resnet_cifar8': (100, 83_892),
    'resnet_cifar20': (100, 278_324),
    'resnet_cifar110': (100, 1_170_868),
    'pyramidnet110': (100, 1_725_300),
    'pyramidnet200': (100, 26_844_952),  # the paper's 26.8 M
    'pyramidnet272': (100, 26_288_692),
    # timm's deit_tiny/small/base_patch16_224 (`bench/timm_vit.py` counts them with timm).
    'deit_tiny': (1000, 5_717_416),
    'deit_small': (1000, 22_050_664),
    'deit_base': (1000, 86_567_656),
    # timm's deit3_small/base_patch16_224: DeiT's less one position row, plus 2 x 12 LayerScales.
    'deit3_small': (1000, 22_059_496),
    'deit3_base': (1000, 86_585_320),
    'vit_cifar': (10, 1_205_898),  # D 128, depth 6, 4 heads, 4x4 patches at 32x32
}
NUM_CLASSES = 10
IMAGES = (8, 32, 32, 3)


def small_models():
  return {
      'resnet_cifar20': get_model('resnet_cifar20', NUM_CLASSES),
      'pyramidnet11': PyramidNet(NUM_CLASSES, depth=11, alpha=48),
  }


def random_variables(model, image_shape=IMAGES, seed=0):
  """Variables of `model` drawn with numpy, kernels He-scaled, BN statistics away from 0 and 1."""
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(image_shape))
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = path[-1].key
    if name == 'kernel':
      values = rng.normal(size=leaf.shape) * math.sqrt(2.0 / math.prod(leaf.shape[:-1]))
    elif name in ('scale', 'var'):
      values = rng.uniform(0.5, 1.5, leaf.shape)
    else:
      values = rng.normal(size=leaf.shape) * 0.1
    return jnp.asarray(values, leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def images(seed=1, shape=IMAGES):
  return jax.random.normal(jax.random.key(seed), shape)


def count(tree):
  return sum(leaf.size for leaf in jax.tree_util.tree_leaves(tree))


# ---------------------------------------------------------------------------------------------
# Registry, sizes and dtypes (abstract evaluation only)
# ---------------------------------------------------------------------------------------------
def test_every_named_model_has_a_parameter_count():
  assert set(PARAMETER_COUNTS) == set(MODELS)


@pytest.mark.parametrize('name', sorted(PARAMETER_COUNTS))
def test_parameter_count_is_exact(name):
  num_classes, expected = PARAMETER_COUNTS[name]
  model = get_model(name, num_classes)
  side = 224 if name.startswith('deit') else 32  # a ViT's position embeddings follow the side
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, side, side, 3)))
  assert count(shapes['params']) == expected
  stages = 0 if 'vit' in name or 'deit' in name else 4
  assert model.num_stages == (3 if name.startswith(('resnet_cifar', 'pyramidnet')) else stages)


def test_unknown_model_name_lists_the_valid_names():
  with pytest.raises(ValueError, match='resnet50.*pyramidnet200'):
    get_model('resnet51', 10)


def test_input_of_wrong_rank_is_rejected_with_its_shape():
  model = get_model('resnet_cifar20', NUM_CLASSES)
  with pytest.raises(ValueError, match=r'\(32, 32, 3\)'):
    model.init(jax.random.key(0), jnp.zeros((32, 32, 3)))


def test_imagenet_resnet50_maps_224_to_7_and_sows_features_for_cams():
  model = get_model('resnet50', 1000, dtype=jnp.bfloat16)
  x = jnp.zeros((2, 224, 224, 3))
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  logits, state = jax.eval_shape(
      lambda v: model.apply(v, x, mutable=['intermediates'], capture_intermediates=True), variables
  )
  assert (logits.shape, logits.dtype) == ((2, 1000), jnp.float32)
  outputs = state['intermediates']
  assert outputs['stem']['__call__'][0].shape == (2, 56, 56, 64)
  # torchvision's bottleneck strides on its 3x3 conv, the second one.
  block = outputs['stage2_block1']
  assert [block[f'Conv_{i}']['__call__'][0].shape[1] for i in range(3)] == [56, 28, 28]
  assert outputs['stage3_block1']['__call__'][0].shape == (2, 14, 14, 1024)
  assert outputs['features'][0].shape == (2, 7, 7, 2048)
  assert variables['params']['head']['kernel'].shape == (2048, 1000)
  assert variables['params']['stem']['Conv_0']['kernel'].shape == (7, 7, 3, 64)


@pytest.mark.parametrize(
    'model',
    [
        get_model('resnet50', NUM_CLASSES, dtype=jnp.bfloat16),
        PyramidNet(NUM_CLASSES, depth=11, alpha=48, dtype=jnp.bfloat16),
    ],
)
def test_bfloat16_compute_keeps_parameters_and_statistics_float32(model):
  variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  dtypes = {leaf.dtype for leaf in jax.tree_util.tree_leaves(variables)}
  assert dtypes == {jnp.dtype(jnp.float32)}
  assert set(variables) == {'params', 'batch_stats'}


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
def test_pyramid_widths_follow_the_official_additive_rule():
  # n = 1, alpha / 3n = 16: running widths 32, 48, 64.
  assert pyramidnet.pyramid_widths(11, 48, True) == ((32,), (48,), (64,))
  widths = pyramidnet.pyramid_widths(110, 64, True)
  assert [len(stage) for stage in widths] == [12, 12, 12]
  assert widths[0][:3] == (18, 20, 21)  # round(16 + 1.78), round(16 + 3.56), round(16 + 5.33)
  assert widths[-1][-1] == 16 + 64
  assert pyramidnet.pyramid_widths(200, 240, True)[-1][-1] == 16 + 240
  with pytest.raises(ValueError, match='9n \\+ 2'):
    pyramidnet.pyramid_widths(100, 64, True)


def test_pyramid_shortcut_pools_in_ceil_mode_and_zero_pads_channels():
  x = jnp.arange(9.0).reshape(1, 3, 3, 1)
  out = pyramidnet.pyramid_shortcut(x, 2, 3)
  # Windows {0,1,3,4}, {2,5}, {6,7}, {8}: a window cut by the border averages what it covers.
  np.testing.assert_allclose(out[0, :, :, 0], [[2.0, 3.5], [6.5, 8.0]])
  np.testing.assert_array_equal(out[..., 1:], 0.0)


def test_conv_init_is_untruncated_he_normal_over_fan_out():
  kernel = layers.conv(64, 3, dtype=jnp.float32).init(jax.random.key(0), jnp.zeros((1, 4, 4, 16)))[
      'params'
  ]['kernel']
  std = math.sqrt(2.0 / (3 * 3 * 64))  # fan_in would give sqrt(2 / (3 * 3 * 16))
  assert abs(float(jnp.std(kernel)) / std - 1.0) < 0.03
  assert float(jnp.max(jnp.abs(kernel))) > 3.0 * std  # a truncated normal stops at 2 std


def test_batch_norm_running_statistics_use_pytorch_momentum():
  x = images(shape=(16, 4, 4, 3)) * 2.0 + 1.0
  norm = layers.batch_norm(True, dtype=jnp.float32)
  variables = norm.init(jax.random.key(0), x)
  _, state = norm.apply(variables, x, mutable=['batch_stats'])
  stats = state['batch_stats']
  np.testing.assert_allclose(stats['mean'], 0.1 * jnp.mean(x, axis=(0, 1, 2)), rtol=1e-5)
  np.testing.assert_allclose(stats['var'], 0.9 + 0.1 * jnp.var(x, axis=(0, 1, 2)), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Forward passes of the small models
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['resnet_cifar20', 'pyramidnet11'])
def test_logits_shape_dtype_and_class_activation_maps(name):
  model = small_models()[name]
  variables = random_variables(model)
  logits, state = model.apply(variables, images(), mutable=['intermediates'])
  assert (logits.shape, logits.dtype) == ((IMAGES[0], NUM_CLASSES), jnp.float32)
  features = state['intermediates']['features'][0]
  head = variables['params']['head']
  cams = features @ head['kernel']  # (N, h, w, K)
  np.testing.assert_allclose(
      jnp.mean(cams, axis=(1, 2)) + head['bias'], logits, rtol=1e-4, atol=1e-4
  )


def test_eval_is_deterministic_and_leaves_statistics_while_train_updates_them():
  model = small_models()['resnet_cifar20']
  variables = random_variables(model)
  x = images()
  first, eval_state = model.apply(variables, x, train=False, mutable=['batch_stats'])
  second = model.apply(variables, x, train=False)
  np.testing.assert_array_equal(first, second)
  jax.tree_util.tree_map(
      np.testing.assert_array_equal, eval_state['batch_stats'], variables['batch_stats']
  )
  train_logits, train_state = model.apply(variables, x, train=True, mutable=['batch_stats'])
  assert not np.allclose(train_logits, first, atol=1e-3)  # batch, not running, statistics
  old, new = variables['batch_stats'], train_state['batch_stats']
  for path in (('stem', 'BatchNorm_0'), ('stage3_block3', 'BatchNorm_1')):
    before, after = old[path[0]][path[1]]['mean'], new[path[0]][path[1]]['mean']
    assert not np.allclose(before, after)


def test_bfloat16_logits_are_close_to_float32_on_the_same_parameters():
  variables = random_variables(get_model('resnet_cifar20', NUM_CLASSES))
  x = images()
  reference = get_model('resnet_cifar20', NUM_CLASSES).apply(
      variables, x, train=True, mutable=['batch_stats']
  )[0]
  logits = get_model('resnet_cifar20', NUM_CLASSES, dtype=jnp.bfloat16).apply(
      variables, x, train=True, mutable=['batch_stats']
  )[0]
  assert logits.dtype == jnp.float32
  # bfloat16 keeps 8 significant bits (relative step 2^-8 = 0.4%); 20 layers stay within 3%.
  scale = float(jnp.max(jnp.abs(reference)))
  np.testing.assert_allclose(logits, reference, atol=0.03 * scale)
  assert not np.array_equal(logits, reference)  # it did compute in bfloat16


# ---------------------------------------------------------------------------------------------
# Feature-level CutMix
# ---------------------------------------------------------------------------------------------
def draw_request(model, rng, x=None):
  return FeatureMix.draw(rng, images() if x is None else x, 1.0, model.num_stages)


def apply_mixing(model, variables, x, request):
  """`(logits, ratio)` of a forward pass that mixes features as `request` says."""
  logits, updates = model.apply(variables, x, feature_mix=request, mutable=[feature_mix.COLLECTION])
  return logits, feature_mix.sown_ratio(updates)


@pytest.mark.parametrize('name', ['resnet_cifar20', 'pyramidnet11'])
def test_feature_mix_at_stage_zero_equals_input_cutmix(name):
  model = small_models()[name]
  variables = random_variables(model)
  x, labels = images(), jax.nn.one_hot(jnp.arange(IMAGES[0]), IMAGES[0])
  rng = jax.random.key(3)
  request = draw_request(model, rng).replace(stage=jnp.int32(0))
  logits, ratio = apply_mixing(model, variables, x, request)

  _, mix_key = jax.random.split(rng)
  mixed_images, mixed_labels = cutmix_lib.cutmix(mix_key, x, labels)
  np.testing.assert_allclose(logits, model.apply(variables, mixed_images), rtol=1e-5, atol=1e-5)
  assert ratio.dtype == jnp.float32 and 0.0 < float(ratio) < 1.0
  moved = np.flatnonzero(np.asarray(request.permutation) != np.arange(IMAGES[0]))
  assert moved.size
  np.testing.assert_allclose(1.0 - mixed_labels[moved, moved], ratio, rtol=1e-6)
  assert not np.allclose(logits, model.apply(variables, x), atol=1e-4)  # it did mix


def test_feature_mix_at_stage_k_uses_a_box_in_that_stage_coordinates():
  model = small_models()['resnet_cifar20']
  variables = random_variables(model)
  x = images()
  traces = []

  @jax.jit
  def forward(request):
    traces.append(None)
    return apply_mixing(model, variables, x, request)

  request = draw_request(model, jax.random.key(4))
  plain = model.apply(variables, x)
  for stage, side in ((1, 32), (2, 16), (3, 8)):
    logits, ratio = forward(request.replace(stage=jnp.int32(stage)))
    box = boxes.sample_box(request.box_key, request.lam, side, side)
    assert float(ratio) == pytest.approx(float(boxes.box_area_ratio(box, side, side)), abs=1e-7)
    assert 0.0 < float(ratio) and not np.allclose(logits, plain, atol=1e-5)
  # A stage past the last mixes nothing.
  logits, ratio = forward(request.replace(stage=jnp.int32(model.num_stages + 1)))
  assert float(ratio) == 0.0
  np.testing.assert_allclose(logits, plain, rtol=1e-5, atol=1e-5)
  assert len(traces) == 1  # the stage is traced: choosing another one does not retrace


def _mixed_loss(model, params, batch_stats, x, labels, request):
  """The train step's loss: cross-entropy of the logits of a feature-mixed forward pass
  against the labels mixed by the ratio the model sowed."""
  logits, updates = model.apply(
      {'params': params, 'batch_stats': batch_stats},
      x,
      train=True,
      feature_mix=request,
      mutable=['batch_stats', feature_mix.COLLECTION],
  )
  targets = mask_mix.mix_labels(
      labels, labels[request.permutation], feature_mix.sown_ratio(updates)
  )
  return losses.softmax_cross_entropy(logits, targets).mean()


def test_feature_mix_at_every_stage_gives_every_parameter_array_a_gradient():
  # Mixing the features that enter stage k must not cut the gradient of what comes before it:
  # every conv kernel, BatchNorm scale and bias and the head get a non-zero gradient, at every
  # stage (traced: one program for all), and the gradient is that of a plain `jnp.where`.
  model = get_model('resnet_cifar8', NUM_CLASSES)
  variables = random_variables(model)
  x, labels = images(), jax.nn.one_hot(jnp.arange(IMAGES[0]) % NUM_CLASSES, NUM_CLASSES)
  stats = variables['batch_stats']
  loss = lambda params, request: _mixed_loss(model, params, stats, x, labels, request)
  stages = range(model.num_stages + 1)
  requests = [draw_request(model, jax.random.key(5)).replace(stage=jnp.int32(k)) for k in stages]
  with mock.patch.object(mask_mix, 'select_pixels', jnp.where):
    plain_grad = jax.jit(jax.grad(lambda params, request: loss(params, request)))
    expected = [plain_grad(variables['params'], request) for request in requests]
  grad = jax.jit(jax.grad(loss))
  for stage, request, plain in zip(stages, requests, expected):
    grads = grad(variables['params'], request)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    zero = [jax.tree_util.keystr(path) for path, g in leaves if not np.any(np.asarray(g))]
    assert len(leaves) == 29 and not zero, f'stage {stage}: zero gradient for {zero}'
    for (path, got), want in zip(leaves, jax.tree_util.tree_leaves(plain)):
      np.testing.assert_allclose(
          got, want, rtol=1e-5, atol=1e-6, err_msg=jax.tree_util.keystr(path)
      )


@pytest.mark.slow  # 60 SGD steps
def test_feature_cutmix_lowers_the_loss_as_input_cutmix_does():
  # 30 SGD steps on one batch of 16, a new request (stage, partners, box) each step: the
  # loss on the unmixed batch falls as it does with input-level CutMix (the same draws at
  # stage 0), both by more than half.
  model = get_model('resnet_cifar8', NUM_CLASSES)
  variables = random_variables(model)
  x = images(shape=(16, 32, 32, 3))
  labels = jax.nn.one_hot(jnp.arange(16) % NUM_CLASSES, NUM_CLASSES)
  optimizer = optax.sgd(0.05, momentum=0.9)

  def plain_loss(params):  # with the batch's own statistics, as in training
    variables_now = {'params': params, 'batch_stats': variables['batch_stats']}
    logits, _ = model.apply(variables_now, x, train=True, mutable=['batch_stats'])
    return losses.softmax_cross_entropy(logits, labels).mean()

  def train(input_level):
    @jax.jit
    def step(params, opt_state, key):
      request = draw_request(model, key, x)
      if input_level:
        request = request.replace(stage=jnp.int32(0))
      loss = lambda p: _mixed_loss(model, p, variables['batch_stats'], x, labels, request)
      updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state)
      return optax.apply_updates(params, updates), opt_state

    params, opt_state = variables['params'], optimizer.init(variables['params'])
    for i in range(30):
      params, opt_state = step(params, opt_state, jax.random.key(i))
    return float(plain_loss(params))

  before = float(plain_loss(variables['params']))
  feature, input_level = train(False), train(True)
  assert feature < 0.5 * before and input_level < 0.5 * before, (before, feature, input_level)
  assert feature < 2.0 * input_level, (feature, input_level)


def test_model_settings_replace_the_named_models_and_unknown_ones_are_refused(small_config):
  assert models.settings_of('resnet_cifar8') == ('stage_sizes', 'widths')
  assert models.settings_of('pyramidnet110') == ('depth', 'alpha', 'bottleneck')
  wide = get_model('resnet_cifar8', 10, settings={'widths': [8, 16, 24]})  # lists as tuples
  variables = jax.eval_shape(wide.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  assert variables['params']['head']['kernel'].shape == (24, 10)
  assert get_model('resnet_cifar8', 10).widths == (16, 32, 64)  # the named model unchanged

  config = small_config()
  config.model_settings = {'widths': (8, 16, 24)}
  assert run_config.check_config(config).model_settings == {'widths': (8, 16, 24)}
  config.model_settings = {'depth': 3}
  with pytest.raises(ConfigError) as error:
    run_config.check_config(config)
  assert str(error.value) == (
      "config.model_settings: resnet_cifar8 has no setting 'depth'; "
      'its settings: stage_sizes, widths'
  )


def test_an_unknown_top_level_field_is_refused_in_one_line(small_config):
  config = small_config()
  config.epochs = 3
  with pytest.raises(
      ConfigError, match=r'^config.epochs is no field of a run config; its fields: data'
  ):
    run_config.check_config(config)


def _tiny_vit(**settings):
  return VisionTransformer(NUM_CLASSES, patch_size=8, width=32, depth=2, num_heads=2, **settings)


def test_vit_keeps_the_class_tokens_attention_only_when_asked():
  model = _tiny_vit()
  images = jax.random.normal(jax.random.key(0), IMAGES)
  variables = model.init(jax.random.key(1), images)
  plain = model.apply(variables, images)
  logits, kept = model.apply(variables, images, mutable=['attention'])
  np.testing.assert_array_equal(plain, logits)  # asking changes nothing else
  cls = vit.cls_attention(kept)
  assert cls.shape == (8, 16)  # 32 / 8 = 4 x 4 patches
  # The class token's softmax row over itself and the 16 patches: the patches get the rest.
  assert np.all(cls > 0) and np.all(cls.sum(-1) < 1.0) and np.all(cls.sum(-1) > 0.5)
  assert 'attention' not in model.apply(variables, images, mutable=['intermediates'])[1]


def test_vit_drop_path_draws_per_rng_in_training_and_never_in_evaluation():
  model = _tiny_vit(drop_path=0.5)
  images = jax.random.normal(jax.random.key(0), IMAGES)
  variables = model.init(jax.random.key(1), images)

  def features(module, train, seed=0):  # the head starts at zero (as timm's): look below it
    _, sown = module.apply(
        variables, images, train=train, rngs={'dropout': jax.random.key(seed)},
        mutable=['intermediates'],
    )  # fmt: skip
    return sown['intermediates']['features'][0]

  assert not np.allclose(features(model, True, 0), features(model, True, 1))
  np.testing.assert_array_equal(features(model, True, 0), features(model, True, 0))
  np.testing.assert_array_equal(features(model, False), features(_tiny_vit(), False))
  np.testing.assert_array_equal(features(_tiny_vit(), True), features(_tiny_vit(), False))


def test_vit_refuses_feature_level_mixing_and_partial_patches_in_one_line():
  model = _tiny_vit()
  images = jnp.zeros(IMAGES)
  variables = model.init(jax.random.key(1), images)
  request = FeatureMix.draw(jax.random.key(0), images, 1.0, num_stages=0)
  with pytest.raises(ValueError, match='a VisionTransformer has none: use level=input'):
    model.apply(variables, images, feature_mix=request)
  with pytest.raises(ValueError, match='not a whole number of 8x8 patches'):
    model.apply(variables, jnp.zeros((2, 36, 36, 3)))


def _features(model, params, x):
  """The final patch features `(N, h, w, D)` (the head starts at zero: look below it)."""
  _, sown = model.apply({'params': params}, x, mutable=['intermediates'])
  return sown['intermediates']['features'][0]


def _fold_layer_scale(block):
  """A LayerScale block's parameters for the plain block: each gamma folded into the last layer
  of its branch, `y (W g) + b g = g (y W + b)`."""
  block = dict(block)
  g1, g2 = block.pop('ls1')['gamma'], block.pop('ls2')['gamma']
  scale = lambda layer, g: jax.tree.map(lambda p: p * g, layer)
  block['attn'] = {**block['attn'], 'proj': scale(block['attn']['proj'], g1)}
  block['fc2'] = scale(block['fc2'], g2)
  return block


def test_vit_layer_scale_starts_at_its_value_and_scales_each_branch_per_channel():
  model = _tiny_vit(layer_scale_init=0.25)
  x = jax.random.normal(jax.random.key(0), IMAGES)
  params = model.init(jax.random.key(1), x)['params']
  gammas = [g for path, g in jax.tree_util.tree_leaves_with_path(params) if path[-1].key == 'gamma']
  assert len(gammas) == 4 and all(np.array_equal(g, np.full(32, 0.25, np.float32)) for g in gammas)

  rng = np.random.default_rng(0)  # one value per channel, so that a mix-up of channels shows
  redraw = lambda path, p: jnp.asarray(rng.uniform(-2, 2, p.shape), p.dtype)
  params = jax.tree_util.tree_map_with_path(
      lambda path, p: redraw(path, p) if path[-1].key == 'gamma' else p, params
  )
  in_block = lambda f: {k: f(v) if k.startswith('block') else v for k, v in params.items()}
  folded = in_block(_fold_layer_scale)
  got = _features(model, params, x)
  np.testing.assert_allclose(got, _features(_tiny_vit(), folded, x), rtol=1e-5, atol=1e-5)
  unscaled = in_block(lambda block: {k: v for k, v in block.items() if not k.startswith('ls')})
  assert not np.allclose(got, _features(_tiny_vit(), unscaled, x), atol=1e-2)  # the gammas act


def test_vit_without_a_class_token_position_equals_one_whose_class_row_is_zero():
  model = _tiny_vit(class_token_position=False)
  x = jax.random.normal(jax.random.key(0), IMAGES)
  params = model.init(jax.random.key(1), x)['params']
  assert params['pos_embed'].shape == (1, 16, 32)  # the 4 x 4 patches only
  params['head'] = {**params['head'], 'kernel': jax.random.normal(jax.random.key(2), (32, 10))}
  with_row = lambda row: {**params, 'pos_embed': jnp.concatenate([row, params['pos_embed']], 1)}
  plain = _tiny_vit()
  logits = model.apply({'params': params}, x)
  np.testing.assert_array_equal(logits, plain.apply({'params': with_row(jnp.zeros((1, 1, 32)))}, x))
  shifted = plain.apply({'params': with_row(jnp.ones((1, 1, 32)))}, x)
  assert not np.allclose(logits, shifted, atol=1e-3)  # the class row would have counted
