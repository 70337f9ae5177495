"""The one base class of every mistake a user can make with the commands or the run API.

Each one-line error derives from `UserError` (and from the built-in class its kind calls for:
`ValueError` for a bad value, `OSError` for a file that cannot be written), so `train.py` and
`evaluate.py` catch this one class and stop the same way: one `error:` line, exit status 1.
"""


class UserError(Exception):
  """A mistake of the user's to fix; its message is one line that says what and where."""
