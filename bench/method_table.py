"""The result table shared by the step benchmarks (JAX and PyTorch); imports neither framework."""
import statistics


def print_method_table(batch: int, seconds: dict) -> None:
  """One row per method: median img/s and ms/step over the rounds, and the change vs the first.

  Args:
    batch: global batch size.
    seconds: method -> per-step seconds of each timed round (insertion order; first = reference).
  """
  methods = list(seconds)
  base = statistics.median(seconds[methods[0]])
  for method in methods:
    median = statistics.median(seconds[method])
    rounds = [round(s * 1e3, 2) for s in seconds[method]]
    print(f'{method:>15}: {batch / median:9.1f} img/s  {median * 1e3:8.2f} ms/step  '
          f'{100 * (median / base - 1):+6.2f}% vs {methods[0]} (rounds {rounds} ms)')
