"""Bench-only PyTorch restatement of the official CutMix models, for counts and timings.

Re-states the definitions of the official `pyramidnet.py` (CIFAR PyramidNet) and `resnet.py`
(CIFAR ResNet; its ImageNet ResNets are torchvision's) to count their parameters and to time
PyTorch against `cutmix_jax.models`. Never imported by the package; needs torch only (NCHW).

  python bench/torch_pyramidnet.py --num_classes 100 --models pyramidnet200 resnet_cifar110
"""

import argparse
import functools
import itertools

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(in_channels, out_channels, kernel, stride=1):
  """A bias-free conv padded by kernel // 2, then BN."""
  conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False)
  return [conv, nn.BatchNorm2d(out_channels)]


def branch(in_channels, widths, kernels, stride):
  """conv-BN pairs with ReLU between; the first 3x3 conv carries the stride."""
  modules, stride_at = [], list(kernels).index(3)
  for i, (width, kernel) in enumerate(zip(widths, kernels)):
    if i:
      modules.append(nn.ReLU(inplace=True))
    modules += conv_bn(in_channels, width, kernel, stride if i == stride_at else 1)
    in_channels = width
  return nn.Sequential(*modules)


def branch_widths(planes, kernels, expansion):
  return (planes,) * (len(kernels) - 1) + (planes * expansion,)


class ResidualBlock(nn.Module):
  """Post-activation ResNet block with a 1x1 conv + BN projection where the shape changes."""

  def __init__(self, in_channels, planes, stride, kernels, expansion):
    super().__init__()
    widths = branch_widths(planes, kernels, expansion)
    self.branch = branch(in_channels, widths, kernels, stride)
    changes = stride != 1 or in_channels != widths[-1]
    self.shortcut = (
        nn.Sequential(*conv_bn(in_channels, widths[-1], 1, stride)) if changes else (nn.Identity())
    )
    self.out_channels = widths[-1]

  def forward(self, x):
    return F.relu(self.branch(x) + self.shortcut(x))


class PyramidBlock(nn.Module):
  """PyramidNet block: BN, branch, plus an average-pooled, zero-padded shortcut; no final ReLU."""

  def __init__(self, in_channels, planes, stride, kernels, expansion):
    super().__init__()
    widths = branch_widths(planes, kernels, expansion)
    self.norm = nn.BatchNorm2d(in_channels)
    self.branch = branch(in_channels, widths, kernels, stride)
    self.pool = nn.AvgPool2d(2, 2, ceil_mode=True) if stride != 1 else nn.Identity()
    self.out_channels = widths[-1]

  def forward(self, x):
    y = self.branch(self.norm(x))
    shortcut = self.pool(x)
    return y + F.pad(shortcut, (0, 0, 0, 0, 0, y.shape[1] - shortcut.shape[1]))


class Classifier(nn.Module):
  """stem -> stages -> final -> global average pool -> fc."""

  def __init__(self, stem, blocks, final, num_classes):
    super().__init__()
    self.stem, self.blocks, self.final = stem, nn.Sequential(*blocks), final
    self.fc = nn.Linear(blocks[-1].out_channels, num_classes)
    for module in self.modules():
      if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')

  def forward(self, x):
    x = self.final(self.blocks(self.stem(x)))
    return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make_blocks(block, widths, in_channels, kernels, expansion):
  """Blocks of planes `widths[stage][i]`; every stage after the first starts with stride 2."""
  blocks = []
  for k, stage in enumerate(widths):
    for j, planes in enumerate(stage):
      blocks.append(block(in_channels, planes, 2 if k and not j else 1, kernels, expansion))
      in_channels = blocks[-1].out_channels
  return blocks


KERNELS = {False: ((3, 3), 1), True: ((1, 3, 1), 4)}  # bottleneck -> (kernels, expansion)


def resnet(num_classes, stage_sizes, bottleneck, imagenet):
  """torchvision's ImageNet ResNet, or the official CIFAR ResNet (widths 16, 32, 64)."""
  if imagenet:
    stem = nn.Sequential(*conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
    base = (64, 128, 256, 512)
  else:
    stem, base = nn.Sequential(*conv_bn(3, 16, 3), nn.ReLU(inplace=True)), (16, 32, 64)
  widths = [(width,) * size for width, size in zip(base, stage_sizes)]
  blocks = make_blocks(ResidualBlock, widths, base[0], *KERNELS[bottleneck])
  return Classifier(stem, blocks, nn.Identity(), num_classes)


def pyramidnet(num_classes, depth, alpha, bottleneck=True):
  """The official CIFAR PyramidNet: width +alpha/(3n) per block from 16, rounded per block."""
  n = (depth - 2) // (9 if bottleneck else 6)
  running = list(itertools.accumulate([alpha / (3 * n)] * (3 * n), initial=16.0))[1:]
  planes = [int(round(width)) for width in running]
  widths = [planes[k * n : (k + 1) * n] for k in range(3)]
  blocks = make_blocks(PyramidBlock, widths, 16, *KERNELS[bottleneck])
  final = nn.Sequential(nn.BatchNorm2d(blocks[-1].out_channels), nn.ReLU(inplace=True))
  return Classifier(nn.Sequential(*conv_bn(3, 16, 3)), blocks, final, num_classes)


BUILDERS = {
    'resnet18': functools.partial(
        resnet, stage_sizes=(2, 2, 2, 2), bottleneck=False, imagenet=True
    ),
    'resnet34': functools.partial(
        resnet, stage_sizes=(3, 4, 6, 3), bottleneck=False, imagenet=True
    ),
    'resnet50': functools.partial(resnet, stage_sizes=(3, 4, 6, 3), bottleneck=True, imagenet=True),
    'resnet101': functools.partial(
        resnet, stage_sizes=(3, 4, 23, 3), bottleneck=True, imagenet=True
    ),
    'resnet152': functools.partial(
        resnet, stage_sizes=(3, 8, 36, 3), bottleneck=True, imagenet=True
    ),
    'resnet_cifar8': functools.partial(
        resnet, stage_sizes=(1, 1, 1), bottleneck=False, imagenet=False
    ),
    'resnet_cifar20': functools.partial(
        resnet, stage_sizes=(3, 3, 3), bottleneck=False, imagenet=False
    ),
    'resnet_cifar110': functools.partial(
        resnet, stage_sizes=(12, 12, 12), bottleneck=True, imagenet=False
    ),
    'pyramidnet110': functools.partial(pyramidnet, depth=110, alpha=64),
    'pyramidnet200': functools.partial(pyramidnet, depth=200, alpha=240),
    'pyramidnet272': functools.partial(pyramidnet, depth=272, alpha=200),
}


def build(name, num_classes):
  """The PyTorch model `name` (a key of BUILDERS) with `num_classes` outputs."""
  if name not in BUILDERS:
    raise ValueError(f'unknown model {name!r}; valid models: {", ".join(BUILDERS)}')
  return BUILDERS[name](num_classes)


def count_parameters(model):
  """Trainable parameters, BN scale and bias included, running statistics excluded."""
  return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--models', nargs='+', default=list(BUILDERS))
  parser.add_argument('--num_classes', type=int, default=100)
  args = parser.parse_args()
  print(f'torch {torch.__version__}, {args.num_classes} classes')
  for name in args.models:
    print(f'{name:16s} {count_parameters(build(name, args.num_classes)):>12,d}')


if __name__ == '__main__':
  main()
