"""The project's own exceptions: the CLI turns these (and only these) into exit code 2."""

from __future__ import annotations


class CnnauditError(Exception):
    """A user-facing problem: bad input, bad usage, a model that cannot be audited.

    `file` and `line` say where; `hint` says what would be right.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint

    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        where = self.where()
        text = f"{where}: {text}" if where else text
        # One line, whatever a hostile file put in its names: escape control characters.
        return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode()
                       for ch in text)


class SpecError(CnnauditError):
    """The architecture spec is malformed (YAML, unknown layer, bad argument, bad wiring)."""


class ShapeError(CnnauditError):
    """A layer cannot be applied to the shape it receives."""


class BoardError(CnnauditError):
    """A board profile is unknown or malformed."""


class ConfigError(CnnauditError):
    """The project file (cnnaudit.yaml or [tool.cnnaudit] in pyproject.toml) is malformed."""


class UsageError(CnnauditError):
    """The command line asks for something that does not exist."""
