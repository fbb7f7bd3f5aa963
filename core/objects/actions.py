"""Run a remotable method on behalf of another process: the conductor's side of the
remote object model.

The indirection API on a caller sends (object, method, args); whoever owns the database
runs the method with these functions and returns what the caller needs to update its
own copy: the changed fields as primitives plus ``obj_what_changed``. Both the DB
conductor and the ``local`` indirection plugin use them, so a method behaves the same
whether it crossed the bus or not.

The undecorated method (``original_fn``) is called, so running a method here never
re-enters the indirection API for that same call.
"""

from __future__ import annotations

import copy
from typing import Any

import netaddr
from oslo_versionedobjects import base as ovo_base

from nubis.core.objects.base import IMMUTABLE_TYPES, NubisObject

_UNSET = object()


def _original(fn: Any) -> Any:
    return getattr(fn, "original_fn", fn)


def _copied(value: Any) -> Any:
    """*value* as it is now, for comparing later: immutable values themselves, plain
    copies of containers (oslo's coerced ones point back at their owner object, which
    a deep copy would copy too), an address built from the address (a tenth of a deep
    copy's cost), deep copies of anything else."""
    if isinstance(value, IMMUTABLE_TYPES):
        return value
    if type(value) is netaddr.IPAddress:
        return netaddr.IPAddress(value)
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, set):
        return {_copied(item) for item in value}
    return copy.deepcopy(value)


def _snapshot(objinst: NubisObject) -> dict[str, Any]:
    """The set field values of *objinst*, keyed ``_obj_<name>``, as they are now."""
    return {
        key: value if isinstance(value, IMMUTABLE_TYPES) else _copied(value)
        for key, value in objinst.__dict__.items()
        if key.startswith("_obj_")
    }


def object_action(
    context: Any, objinst: NubisObject, objmethod: str, args: Any, kwargs: Any
) -> tuple[dict[str, Any], Any]:
    """Run ``objinst.objmethod(*args, **kwargs)`` and return ``(updates, result)``.

    ``updates`` maps each field whose value the method set or changed to its
    primitive, plus ``obj_what_changed``: the fields still dirty after the method.
    """
    before = _snapshot(objinst)
    objinst._context = context
    method = _original(getattr(type(objinst), objmethod))
    result = method(objinst, *args, **kwargs)
    updates: dict[str, Any] = {}
    after = objinst.__dict__
    for name, field in objinst.fields.items():
        key = "_obj_" + name
        value = after.get(key, _UNSET)
        if value is _UNSET:
            continue
        old = before.get(key, _UNSET)
        if old is not value and (old is _UNSET or old != value):
            updates[name] = field.to_primitive(objinst, name, value)
    updates["obj_what_changed"] = objinst.obj_what_changed()
    return updates, result


def object_class_action_versions(
    context: Any,
    objname: str,
    objmethod: str,
    object_versions: dict[str, str],
    args: Any,
    kwargs: Any,
) -> Any:
    """Run classmethod *objmethod* of *objname*; backport the result to *object_versions*.

    The caller's ``object_versions`` manifest names the newest version of each object
    it understands; a result object newer than that is made compatible before it is
    returned.
    """
    objclass = NubisObject.obj_class_from_name(objname, object_versions[objname])
    bound = getattr(objclass, objmethod)
    method = _original(getattr(bound, "__func__", bound))
    result = method(objclass, context, *args, **kwargs)
    if isinstance(result, ovo_base.VersionedObject):
        result._context = context
        if result.obj_name() in object_versions:
            target = object_versions[result.obj_name()]
            if target != result.VERSION:
                result = result.obj_to_primitive(
                    target_version=target, version_manifest=object_versions
                )
    return result


def object_backport_versions(
    context: Any, objinst: NubisObject, object_versions: dict[str, str]
) -> dict[str, Any]:
    """Return *objinst* as a primitive at the versions named in *object_versions*."""
    target = object_versions[objinst.obj_name()]
    primitive: dict[str, Any] = objinst.obj_to_primitive(
        target_version=target, version_manifest=object_versions
    )
    return primitive
