"""A backend that cannot run on this machine (a missing library or GPU): raised where
that is found out (the TensorRT engine builder) and by the runtime backends above it."""

from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """A backend cannot run on this machine; the message says why and what would fix it."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"backend {backend!r} is unavailable: {reason}")
        self.backend = backend
        self.reason = reason
