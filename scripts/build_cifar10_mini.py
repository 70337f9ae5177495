"""Builds the built-in `cifar10_mini` archive from the CIFAR-10 JPEG training tarball.

Takes, per class, the first `TRAIN_PER_CLASS` images (train) and the last `EVAL_PER_CLASS`
(eval) of `train/<class>/<n>.jpg` in numeric order, and writes them byte for byte (never
re-encoded) as `cifar10_mini/{train,eval}/<class>/<n>.jpg` into one tar.gz. The output is
deterministic: members in sorted order, fixed mtime, owner and mode, and a gzip header without
name or time (as `gzip -n`), so the same input gives the same bytes.

  python scripts/build_cifar10_mini.py ../shared/data/cifar10-jpeg-train.tar.gz \
      cutmix_jax/data/cifar10_mini.tar.gz
"""

import argparse
import collections
import gzip
import hashlib
import io
import re
import tarfile
from typing import Dict, List, Tuple

ImageFile = Tuple[int, str, bytes]  # (number, file stem, JPEG bytes)

TRAIN_PER_CLASS = 100
EVAL_PER_CLASS = 500
ROOT = 'cifar10_mini'
MTIME = 1546300800  # 2019-01-01 00:00 UTC, the source tarball's own mtime
_MEMBER = re.compile(r'^(?:\./)?train/([^/]+)/(\d+)\.jpg$')


def read_classes(tarball: str) -> Dict[str, List[ImageFile]]:
  """The files of every `train/<class>/<n>.jpg`, per class in numeric order."""
  classes = collections.defaultdict(list)
  with tarfile.open(tarball, 'r:*') as archive:
    for member in archive:
      match = _MEMBER.match(member.name)
      if member.isfile() and match:
        data = archive.extractfile(member).read()
        classes[match.group(1)].append((int(match.group(2)), match.group(2), data))
  if not classes:
    raise SystemExit(f'error: {tarball} holds no train/<class>/<n>.jpg files')
  return {name: sorted(files) for name, files in classes.items()}


def select(
    classes: Dict[str, List[ImageFile]], train_per_class: int, eval_per_class: int
) -> List[Tuple[str, bytes]]:
  """`[(archive path, bytes)]` of the subset, sorted by path; train and eval never overlap."""
  members = []
  for name, files in classes.items():
    if len(files) < train_per_class + eval_per_class:
      raise SystemExit(
          f'error: class {name!r} has {len(files)} images; the subset needs '
          f'{train_per_class + eval_per_class}'
      )
    for split, chosen in (('train', files[:train_per_class]), ('eval', files[-eval_per_class:])):
      members += [(f'{ROOT}/{split}/{name}/{stem}.jpg', data) for _, stem, data in chosen]
  return sorted(members)


def write_archive(members: List[Tuple[str, bytes]], path: str) -> str:
  """Writes a deterministic tar.gz of `members`; returns its SHA-256."""
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w', format=tarfile.USTAR_FORMAT) as archive:
    for name, data in members:
      info = tarfile.TarInfo(name)
      info.size, info.mtime, info.mode = len(data), MTIME, 0o644
      info.uid = info.gid = 0
      info.uname = info.gname = ''
      archive.addfile(info, io.BytesIO(data))
  compressed = io.BytesIO()
  with gzip.GzipFile(filename='', mode='wb', fileobj=compressed, compresslevel=9, mtime=0) as gz:
    gz.write(buffer.getvalue())
  with open(path, 'wb') as out:
    out.write(compressed.getvalue())
  return hashlib.sha256(compressed.getvalue()).hexdigest()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
  parser.add_argument('tarball', help='the CIFAR-10 JPEG training tarball (train/<class>/<n>.jpg)')
  parser.add_argument('out', help='the archive to write (tar.gz)')
  parser.add_argument('--train-per-class', type=int, default=TRAIN_PER_CLASS)
  parser.add_argument('--eval-per-class', type=int, default=EVAL_PER_CLASS)
  args = parser.parse_args()
  members = select(read_classes(args.tarball), args.train_per_class, args.eval_per_class)
  digest = write_archive(members, args.out)
  print(f'{args.out}: {len(members)} images, sha256 {digest}')


if __name__ == '__main__':
  main()
