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
