"""The one exception type the data layer shows to users.

The CLI catches `DataError`, prints `str(error)` and exits with status 2, without a
traceback: every message therefore has to stand on its own, naming the problem and,
where there is one, the fix.
"""

from __future__ import annotations

from reglab.errors import ReglabError


class DataError(ReglabError):
    """A problem with data that the user can act on.

    `problem` is one line (it is also used as the "why" in fallback notices);
    `fix` says what to do about it and is printed on its own line.
    """

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}\nFix: {fix}")


class IdxError(DataError):
    """A file that is not a well-formed IDX file (or not a well-formed gzip of one)."""
