"""Exit statuses of the ``bfrbench`` command, in one place (README "Exit status" documents them).

* :data:`EXIT_OK` (0): everything worked.
* :data:`EXIT_ERROR` (1): a usage or input error (a :class:`~bfrbench.errors.BfrbenchError`, printed as one
  line on stderr), or a check that found a problem (``verify`` drift, ``regress`` regression, ``validate``).
* :data:`EXIT_USAGE` (2): bad command line (argparse) or a command group called without its action.
* :data:`EXIT_SOME_FAILED` (3): the job finished but some items failed; they are listed in the artifact's
  JSON and in the printed summary, and a re-run resumes with them.
* :data:`EXIT_INTERRUPTED` (130): interrupted (Ctrl-C); finished outputs are kept.
"""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_SOME_FAILED", "EXIT_INTERRUPTED", "status_for"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_INTERRUPTED = 130


def status_for(failures: object) -> int:
    """:data:`EXIT_SOME_FAILED` when ``failures`` (a count or a collection) is non-empty, else :data:`EXIT_OK`."""
    return EXIT_SOME_FAILED if failures else EXIT_OK
