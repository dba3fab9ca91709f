"""The error tree of vda-skill. Every failure a user or an agent can meet is one of these.

    SkillError                      code, message (one sentence), remedy (the next move), rule
    ├── InputError                  the arguments are wrong; the caller can fix them
    │   └── UndefinedVariable       a workflow variable has no value at render time
    ├── PolicyDenied                a rule of POLICY.md forbids the call; code is the rule id
    ├── UserInputRequired           only the user can supply this (a secret, a storage prefix, a pool)
    ├── NotFound                    a run, workflow, file or artifact that does not exist
    └── BackendError                the place that runs workflows could not do it
        ├── BackendUnavailable      CLI missing, not logged in, connection refused, server error
        ├── BackendTimeout          a call ran past its timeout
        ├── RateLimited             the backend kept answering "too many requests"
        └── CommandFailed           a backend command exited non-zero (redacted argv + output tail)

Programmer mistakes stay ``RuntimeError``/``TypeError`` and are never turned into these.
Messages and remedies pass through :func:`skill.secrets.redact` when the error is built, so a
secret cannot leave the process inside an error.
"""

from __future__ import annotations

from typing import ClassVar

from skill.secrets import redact

__all__ = [
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "CommandFailed",
    "InputError",
    "NotFound",
    "PolicyDenied",
    "RateLimited",
    "SkillError",
    "UndefinedVariable",
    "UserInputRequired",
]


class SkillError(Exception):
    """Base of every expected failure: a stable kebab-case code, one sentence, the remedy."""

    default_code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        remedy: str | None = None,
        code: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.remedy = redact(remedy) if remedy else None
        self.code = code or self.default_code
        self.rule = rule
        super().__init__(self.message)

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        return f"{text} Next: {self.remedy}" if self.remedy else text

    def to_model(self):  # -> skill.models.StepError (import kept local: models imports nothing of ours)
        from skill.models import StepError

        return StepError(code=self.code, message=self.message, remedy=self.remedy, rule=self.rule)


class InputError(SkillError):
    default_code = "invalid-input"


class UndefinedVariable(InputError):
    default_code = "undefined-variable"

    def __init__(self, variable: str, *, workflow: str, remedy: str | None = None) -> None:
        self.variable = variable
        super().__init__(
            f"Workflow {workflow} uses the variable '{variable}' but no value was given for it.",
            remedy=remedy or f"Pass {variable}=<value> inside the single --set-string list.",
        )


class PolicyDenied(SkillError):
    default_code = "policy-denied"

    def __init__(self, rule: str, message: str, *, remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy, code=rule, rule=rule)


class UserInputRequired(SkillError):
    """The run is blocked on something only the user can provide. ``question`` is what to ask."""

    default_code = "user-input-required"

    def __init__(self, message: str, *, question: str, missing: str, remedy: str | None = None) -> None:
        self.question = redact(question)
        self.missing = missing
        super().__init__(message, remedy=remedy or f"Ask the user: {question}")


class NotFound(SkillError):
    default_code = "not-found"


class BackendError(SkillError):
    default_code = "backend-error"


class BackendUnavailable(BackendError):
    default_code = "backend-unavailable"


class BackendTimeout(BackendError):
    default_code = "backend-timeout"


class RateLimited(BackendError):
    default_code = "rate-limited"


class CommandFailed(BackendError):
    default_code = "command-failed"

    def __init__(
        self,
        message: str,
        *,
        argv: list[str] | None = None,
        exit_code: int | None = None,
        output_tail: str = "",
        remedy: str | None = None,
        code: str | None = None,
    ) -> None:
        self.argv = [redact(a) for a in (argv or [])]
        self.exit_code = exit_code
        self.output_tail = redact(output_tail)
        super().__init__(message, remedy=remedy, code=code)
