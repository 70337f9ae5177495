"""The paper's CIFAR-10 recipe: as CIFAR-100 (PyramidNet-200, alpha 240) on CIFAR-10 (Table 7: 2.88%)."""
from configs import cifar100_pyramidnet200


def get_config():
  config = cifar100_pyramidnet200.get_config()
  config.dataset = 'tfds:cifar10'
  return config
