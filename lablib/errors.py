"""The one exception lablib raises for problems a person can fix."""


class LabError(RuntimeError):
    """A problem with a one-sentence explanation and the command that fixes it.

    The ``lab`` command prints it without a traceback; in a notebook IPython
    shows its message. Code that catches it should not wrap it again.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def _render_traceback_(self):  # IPython: show the sentence, not a traceback
        return [f"LabError: {self.message}"]


def cannot_write(path, code: int | None, detail: str | None = None, verb: str = "write") -> LabError:
    """One sentence for a write the filesystem refused: what, where, and what to do.

    ``code`` is the errno (ENOSPC, EROFS, ...); it stays on the error as ``.errno``, so a
    caller can say the same about a better-known place (the dataset's folder, not a temp file).
    """
    import errno
    import os

    if code in (errno.ENOSPC, errno.EDQUOT):
        message = (f"disk full: cannot {verb} {path}; free some space on that disk, "
                   "or set LAB_HOME to a folder on a disk with room")
    elif code == errno.EROFS:
        message = f"cannot {verb} {path}: the filesystem is read-only; set LAB_HOME to a folder you can write"
    elif code in (errno.EACCES, errno.EPERM):
        message = f"cannot {verb} {path}: permission denied; set LAB_HOME to a folder you can write"
    else:
        why = detail or (os.strerror(code) if code else "unknown error")
        message = f"cannot {verb} {path}: {why}; set LAB_HOME to a folder you can write"
    error = LabError(message)
    error.errno = code
    return error
