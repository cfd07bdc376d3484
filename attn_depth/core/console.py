"""What the user sees while something long runs: one progress line with rate and ETA, durations.

Shared by training, evaluation, the apps and the tools (it imports nothing of the package).
"""

import time


class Progress:
  """A one-line console progress report with rate and ETA, at most every `every_s` seconds.

  Call it with the number of items done so far; `total` None gives rate without ETA.
  """

  def __init__(self, total, label, unit="images", every_s=5.0, print_fn=print):
    self.total, self.label, self.unit, self.every_s = total, label, unit, every_s
    self.print_fn = print_fn
    self.start = self.last = time.perf_counter()

  def __call__(self, done):
    now = time.perf_counter()
    if now - self.last < self.every_s and done < (self.total or float("inf")):
      return
    self.last = now
    rate = done / max(now - self.start, 1e-9)
    if self.total:
      eta = (self.total - done) / max(rate, 1e-9)
      self.print_fn(f"{self.label}: {done}/{self.total} {self.unit}, {rate:.1f}/s, "
                    f"ETA {format_duration(eta)}")
    else:
      self.print_fn(f"{self.label}: {done} {self.unit}, {rate:.1f}/s")


def format_duration(seconds):
  """12.4 -> '0m12s', 3725 -> '1h02m05s'."""
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"
