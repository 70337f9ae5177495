"""What the benchmarks share (JAX and PyTorch alike); imports neither framework."""

import json
import statistics

# The CIFAR nets (and the CIFAR ViT) take 32 x 32 inputs and are timed at CIFAR-100's 100
# classes; the rest at ImageNet's 224 x 224 and 1000 classes.
CIFAR_MODELS = (
    'resnet_cifar8',
    'resnet_cifar20',
    'resnet_cifar110',
    'pyramidnet110',
    'pyramidnet200',
    'pyramidnet272',
    'vit_cifar',
)


def input_setting(name: str):
  """`(image side, num_classes)` of the benchmark for model `name`."""
  return (32, 100) if name in CIFAR_MODELS else (224, 1000)


def method_rows(batch: int, seconds: dict) -> list:
  """One row per method: median img/s and ms/step over the rounds, and the change vs the first.

  Args:
    batch: global batch size.
    seconds: method -> per-step seconds of each timed round (insertion order; first = reference).
  """
  methods = list(seconds)
  base = statistics.median(seconds[methods[0]])
  rows = []
  for method in methods:
    median = statistics.median(seconds[method])
    rows.append(
        {
            'method': method,
            'images_per_second': batch / median,
            'ms_per_step': median * 1e3,
            'change_percent': 100 * (median / base - 1),
            'rounds_ms': [round(s * 1e3, 3) for s in seconds[method]],
        }
    )
  return rows


def print_method_table(batch: int, seconds: dict, json_path: str = '', **facts) -> None:
  """Prints `method_rows`; with `json_path`, also writes them there with `facts` (device, ...)."""
  rows = method_rows(batch, seconds)
  for row in rows:
    print(
        f'{row["method"]:>15}: {row["images_per_second"]:9.1f} img/s  '
        f'{row["ms_per_step"]:8.2f} ms/step  {row["change_percent"]:+6.2f}% vs '
        f'{rows[0]["method"]} (rounds {row["rounds_ms"]} ms)'
    )
  if json_path:
    with open(json_path, 'w', encoding='utf-8') as f:
      json.dump({**facts, 'batch': batch, 'rows': rows}, f, indent=2)
