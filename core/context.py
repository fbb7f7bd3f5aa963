"""The request context that accompanies every call through nubis.

A :class:`RequestContext` carries who asked (user, project, roles) and the request id
across the message bus; :mod:`nubis.core.rpc` serializes it into every message.
"""

from typing import Any

from oslo_context import context


class RequestContext(context.RequestContext):
    """oslo.context's request context plus nubis's ``read_deleted`` switch.

    ``read_deleted`` is one of ``'no'`` (default), ``'yes'`` and ``'only'``: whether DB
    queries made on behalf of this context see soft-deleted rows.
    """

    def __init__(self, read_deleted: str = "no", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if read_deleted not in ("no", "yes", "only"):
            raise ValueError(f"read_deleted must be 'no', 'yes' or 'only', not {read_deleted!r}")
        self.read_deleted = read_deleted

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = super().to_dict()
        values["read_deleted"] = self.read_deleted
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any], **kwargs: Any) -> "RequestContext":
        kwargs.setdefault("read_deleted", values.get("read_deleted", "no"))
        result: RequestContext = super().from_dict(values, **kwargs)
        return result


def get_admin_context(read_deleted: str = "no") -> RequestContext:
    """Return a context with admin rights for work a service does on its own behalf."""
    return RequestContext(is_admin=True, read_deleted=read_deleted, overwrite=False)
