"""Errors a user can fix. The CLI prints their message and exits with code 2; no traceback."""


class ReglabError(Exception):
    """A problem with the user's input, files or environment, explained with its fix."""

    exit_code = 2


class ConfigError(ReglabError):
    """A study that cannot be run as written. Holds every problem found, not just the first."""

    def __init__(self, source: str, problems: list[str], about: str = "the study"):
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''} in {about}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class UnknownName(ReglabError, KeyError):
    """A variant, seed or figure asked for by a name a study or run directory does not have. A
    KeyError too, for code that catches that."""

    def __str__(self) -> str:  # a KeyError would show its message quoted, as a key
        return str(self.args[0]) if self.args else ""


class StorageError(ReglabError):
    """The run directory could not be written (disk full, permissions). Finished runs are kept."""

    exit_code = 1

    def __init__(self, path, error: OSError):
        self.reason = error.strerror or str(error)
        super().__init__(f"could not write {path}: {error.strerror or error}. Runs that finished are kept, and "
                         "interrupted ones resume from their last checkpoint: fix the cause (free disk space, "
                         "permissions) and run the same command again.")


def unwritable(what: str, where: object, error: OSError | StorageError, fix: str) -> ReglabError:
    """A destination the user named (an export's folder, a predictions file) that cannot be
    written: exit 2 with the fix, not StorageError's exit 1 about runs (nothing of a run is lost)."""
    reason = error.reason if isinstance(error, StorageError) else (error.strerror or str(error))
    place = f" ({error.filename})" if isinstance(error, OSError) and error.filename not in (None, str(where)) else ""
    return ReglabError(f"cannot write {what} to {where}: {reason}{place}. Fix: {fix}")


def not_a_folder(what: str, folder: object) -> ReglabError:
    return ReglabError(f"{folder} is a file, and {what} into a folder. Fix: give a folder (an existing one, "
                       "or a new name: it is made).")
