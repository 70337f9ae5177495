"""Images/s of a PyTorch train step as the official CutMix code runs it, with good settings.

SGD (momentum 0.9, Nesterov, weight decay 1e-4), CutMix per batch as the official `train.py`
does (one lam ~ Beta(1, 1), one box from `rand_bbox`, a random permutation, prob 1), bf16
autocast, channels_last, `cudnn.benchmark` and optionally `torch.compile`: the best ordinary
PyTorch recipe, for the speed comparison. Synthetic data already on the device. Bench only:
needs torch (and torchvision for `resnet50`; without it the re-statement in
bench/torch_pyramidnet.py is used).

  python bench/torch_train_step.py --model resnet50 --batch 256 --compile --methods none cutmix
  python bench/torch_train_step.py --model pyramidnet200 --batch 64 --compile
  python bench/torch_train_step.py --model resnet_cifar20 --batch 128 --dtype float32 --layout nchw

On a CPU it runs on torch's CPU threads (all cores, as torch sets them); `--dtype float32` and
`--layout nchw` give the plain settings a CPU user starts from.
"""

import argparse
import time

from common import CIFAR_MODELS
from common import input_setting
from common import print_method_table
import numpy as np
import torch
from torch.nn import functional as F
import torch_pyramidnet


def build_model(name: str, num_classes: int):
  if name.startswith('resnet') and name not in CIFAR_MODELS:
    try:
      import torchvision  # pylint: disable=import-outside-toplevel

      return getattr(torchvision.models, name)(num_classes=num_classes)
    except ImportError:
      pass
  return torch_pyramidnet.build(name, num_classes)


def rand_bbox(height: int, width: int, lam: float):
  """The official `rand_bbox`: side floor(dim * sqrt(1 - lam)), uniform centre, clipped."""
  cut = np.sqrt(1.0 - lam)
  cut_h, cut_w = int(height * cut), int(width * cut)
  cy, cx = np.random.randint(height), np.random.randint(width)
  y1, y2 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
  x1, x2 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
  return y1, y2, x1, x2


def train_step(model, optimizer, images, labels, cutmix: bool, dtype=torch.bfloat16):
  """One step: official-style CutMix (in place on the batch), loss mixed by the box area."""
  if cutmix:
    lam = np.random.beta(1.0, 1.0)
    index = torch.randperm(images.size(0), device=images.device)
    y1, y2, x1, x2 = rand_bbox(images.size(2), images.size(3), lam)
    images[:, :, y1:y2, x1:x2] = images[index, :, y1:y2, x1:x2]
    lam = 1 - (y2 - y1) * (x2 - x1) / (images.size(2) * images.size(3))
  with torch.autocast(device_type=images.device.type, dtype=dtype, enabled=dtype != torch.float32):
    logits = model(images)
    if cutmix:
      loss = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(
          logits, labels[index]
      )
    else:
      loss = F.cross_entropy(logits, labels)
  optimizer.zero_grad(set_to_none=True)
  loss.backward()
  optimizer.step()
  return loss


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default='resnet50')
  parser.add_argument('--batch', type=int, default=256)
  parser.add_argument(
      '--methods', nargs='+', default=['none', 'cutmix'], choices=['none', 'cutmix']
  )
  parser.add_argument('--compile', action='store_true', help='torch.compile the model')
  parser.add_argument('--dtype', default='bfloat16', choices=['bfloat16', 'float32'])
  parser.add_argument('--layout', default='channels_last', choices=['channels_last', 'nchw'])
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--json', default='', help='also write the table here')
  args = parser.parse_args()

  torch.backends.cudnn.benchmark = True  # pick the fastest convolution algorithm per shape
  device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
  side, num_classes = input_setting(args.model)
  layout = torch.channels_last if args.layout == 'channels_last' else torch.contiguous_format
  dtype = getattr(torch, args.dtype)
  model = build_model(args.model, num_classes).to(device, memory_format=layout)
  optimizer = torch.optim.SGD(
      model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4
  )
  runner = torch.compile(model) if args.compile else model
  images = torch.randn(args.batch, 3, side, side, device=device).to(memory_format=layout)
  labels = torch.randint(0, num_classes, (args.batch,), device=device)
  sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
  seconds = {m: [] for m in args.methods}
  for round_index in range(args.rounds + 1):  # round 0 compiles and warms up
    for method in args.methods:
      sync()
      start = time.perf_counter()
      for _ in range(args.steps if round_index else 3):
        train_step(runner, optimizer, images, labels, method == 'cutmix', dtype)
      sync()
      if round_index:
        seconds[method].append((time.perf_counter() - start) / args.steps)
  name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'
  autocast = 'bf16 autocast' if args.dtype == 'bfloat16' else 'float32'
  print(
      f'torch {torch.__version__} {args.model} batch {args.batch} {autocast} {args.layout}'
      f' compile={args.compile} on {name}, {torch.get_num_threads()} threads'
  )
  print_method_table(
      args.batch,
      seconds,
      args.json,
      framework='torch',
      model=args.model,
      dtype=autocast,
      device=name,
      compile=args.compile,
      software=f'torch {torch.__version__}',
  )


if __name__ == '__main__':
  main()
