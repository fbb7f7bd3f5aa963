"""The base of every nubis versioned object, its registry and its serializer.

nubis objects are oslo.versionedobjects classes in the ``nubis`` namespace. A method
decorated with :func:`remotable` runs in this process when no indirection API is set,
and through :attr:`NubisObject.indirection_api` otherwise; :func:`set_indirection_api`
installs the plugin ``[indirection] api`` names (see :func:`install_indirection`).
"""

from __future__ import annotations

import copy
import datetime
import functools
import logging
from types import ModuleType
from typing import Any

import netaddr
from oslo_config import cfg
from oslo_serialization import jsonutils
from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields as ovo_fields

from nubis.core.objects import fields as nubis_fields

LOG = logging.getLogger(__name__)

remotable = ovo_base.remotable
obj_make_list = ovo_base.obj_make_list


@functools.cache
def db_api() -> ModuleType:
    """Return :mod:`nubis.core.db.api`, imported on first use.

    Remotable method bodies call it; a process whose indirection API sends them
    elsewhere (nubis-compute) never imports the database layer at all.
    """
    from nubis.core.db import api

    return api


def remotable_classmethod(fn: Any) -> Any:
    """A remotable classmethod: ``@classmethod`` over oslo's ``@remotable``."""
    return classmethod(ovo_base.remotable(fn))


IMMUTABLE_TYPES = (str, int, float, bool, type(None), datetime.datetime, datetime.date)
"""Field values of these types cannot change in place: a copy may share them."""

# oslo's field types that store and send a value of exactly this Python type as it is.
_PLAIN_FIELD_TYPES: dict[type, type] = {
    ovo_fields.Integer: int,
    ovo_fields.String: str,
    ovo_fields.Float: float,
    ovo_fields.Boolean: bool,
}
# Values a field holds once coerced as they were given: an equal one of the same type
# may be left in place (see NubisPersistentObject._from_db_object).
_PLAIN = frozenset({*_PLAIN_FIELD_TYPES.values(), type(None)})
_hydration_of: dict[type, dict[str, tuple[str, Any, type | None]]] = {}
_NO_OFFSET = datetime.timedelta(0)
_UNSET = object()


def _plain_kind(field: Any) -> type | None:
    """The Python type whose values (or None) come out of *field*'s ``from_primitive``,
    ``coerce`` and ``to_primitive`` as they went in, or None: the field is oslo's own
    ``Field`` (methods not overridden) over oslo's own Integer, String, Float or Boolean
    (not a subclass, which may check more). For those values the conversions are
    skipped.
    """
    kind = _PLAIN_FIELD_TYPES.get(type(getattr(field, "_type", None)))
    field_class = type(field)
    if (
        kind is not None
        and field_class.coerce is ovo_fields.Field.coerce
        and field_class.from_primitive is ovo_fields.Field.from_primitive
        and field_class.to_primitive is ovo_fields.Field.to_primitive
    ):
        return kind
    return None


def _hydration(cls: type) -> dict[str, tuple[str, Any, type | None]]:
    """``{field name: (attribute, field, plain type or None)}`` of *cls*, in the fields'
    order, for :meth:`NubisObject._obj_from_primitive` and
    :meth:`NubisObject.obj_to_primitive` (see :func:`_plain_kind`); built once per
    class."""
    hydration = _hydration_of.get(cls)
    if hydration is None:
        fields: dict[str, Any] = cls.fields  # type: ignore[attr-defined]
        hydration = {
            name: ("_obj_" + name, field, _plain_kind(field)) for name, field in fields.items()
        }
        _hydration_of[cls] = hydration
    return hydration


def _plain_container(value: dict[Any, Any] | list[Any] | set[Any]) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return set(value)


def _holds(current: Any, value: Any) -> bool:
    """Whether a field holding *current* holds what setting it to *value*, a column's
    value, would store: an equal plain value (int, float, str, bool, None) of the same
    type; the same float as an integer column value; the same instant as a naive UTC
    datetime (a tz-aware field adds UTC to it); the same address as its text; an equal
    dict or list (JSON columns, decoded). Setting the field again would coerce and
    store an equal value.
    """
    kind = type(value)
    if kind is type(current) and kind in _PLAIN:
        return bool(current == value)
    if isinstance(current, datetime.datetime) and kind is datetime.datetime:
        if current.tzinfo is not None and value.tzinfo is None:
            return current.utcoffset() == _NO_OFFSET and current.replace(tzinfo=None) == value
        return current.tzinfo is value.tzinfo and current == value
    if type(current) is float and kind is int:
        return current == value
    if isinstance(current, netaddr.IPAddress) and kind is str:
        return str(current) == value
    if isinstance(current, dict | list) and kind in (dict, list):
        return bool(current == value)
    return False


class NubisObjectRegistry(ovo_base.VersionedObjectRegistry):
    """Registers nubis objects and exposes the newest version as an attribute of
    :mod:`nubis.core.objects` (``objects.Instance``)."""

    def registration_hook(self, cls: type, index: int) -> None:
        from nubis.core import objects

        current = getattr(objects, cls.obj_name(), None)  # type: ignore[attr-defined]
        if current is None or _version_tuple(cls.VERSION) >= _version_tuple(current.VERSION):  # type: ignore[attr-defined]
            setattr(objects, cls.obj_name(), cls)  # type: ignore[attr-defined]


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class NubisObject(ovo_base.VersionedObject):
    """Base class of every nubis object.

    Subclasses declare ``fields`` and a ``VERSION`` with its history in the class
    docstring, and implement ``obj_make_compatible`` for every field they added.
    """

    OBJ_SERIAL_NAMESPACE = "nubis_object"
    OBJ_PROJECT_NAMESPACE = "nubis"

    def obj_attr_is_set(self, attrname: str) -> bool:
        """Same contract as oslo's, without building the list of field names per call.

        Serializing an object asks this once or twice per field; oslo's version builds
        ``obj_fields`` (a fresh list) every time, which was most of the cost of putting
        an object on the wire.
        """
        if attrname not in self.fields and attrname not in self.obj_extra_fields:
            raise AttributeError(f"{self.obj_name()} object has no attribute '{attrname}'")
        return hasattr(self, "_obj_" + attrname)

    def obj_what_changed(self) -> set[str]:
        """Same contract as oslo's: the changed fields, including fields holding an
        object that has changes of its own; reads the set values once instead of
        going through every field's property."""
        changes = self._changed_fields & self.fields.keys()
        for key, value in self.__dict__.items():
            if (
                isinstance(value, ovo_base.VersionedObject)
                and key.startswith("_obj_")
                and value.obj_what_changed()
            ):
                changes.add(key[5:])
        return changes

    def obj_clone(self) -> Any:
        """A copy sharing nothing mutable with this object, changes included.

        Immutable values are shared and only the rest deep-copied: the same result as
        oslo's ``copy.deepcopy`` at a fraction of the cost (the conductor clones once
        per remotable call).
        """
        clone = type(self)()
        clone._context = self._context
        clone.VERSION = self.VERSION
        for key, value in self.__dict__.items():
            if not key.startswith("_obj_"):
                continue
            if isinstance(value, IMMUTABLE_TYPES):
                clone.__dict__[key] = value
            elif isinstance(value, dict | list | set):
                # oslo's coerced containers point back at their owner: copy the plain
                # contents and let the field re-coerce them for the clone.
                name = key[5:]
                plain = copy.deepcopy(_plain_container(value))
                clone.__dict__[key] = self.fields[name].coerce(clone, name, plain)
            else:
                clone.__dict__[key] = copy.deepcopy(value)
        clone._changed_fields = set(self._changed_fields)
        return clone

    @classmethod
    def _obj_from_primitive(cls, context: Any, objver: str, primitive: dict[str, Any]) -> Any:
        """Same contract as oslo's hydration (every value converted and validated by its
        field), storing each value directly instead of through the field's property."""
        self = cls()
        self._context = context
        self.VERSION = objver
        key = cls._obj_primitive_key
        values = self.__dict__
        hydration = _hydration(cls)
        for name, value in primitive[key("data")].items():
            how = hydration.get(name)
            if how is None:
                continue
            attribute, field, kind = how
            if kind is not None and (type(value) is kind or (value is None and field.nullable)):
                values[attribute] = value
            else:
                values[attribute] = field.coerce(
                    self, name, field.from_primitive(self, name, value)
                )
        self._changed_fields = {
            name for name in primitive.get(key("changes"), ()) if name in self.fields
        }
        return self

    def obj_to_primitive(
        self, target_version: str | None = None, version_manifest: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Same contract as oslo's; at the object's own version (the common case on the
        wire) it reads the set values directly and computes the changes once."""
        if (target_version not in (None, self.VERSION)) or version_manifest:
            result: dict[str, Any] = super().obj_to_primitive(target_version, version_manifest)
            return result
        values = self.__dict__
        data = {}
        for name, (attribute, field, kind) in _hydration(type(self)).items():
            value = values.get(attribute, _UNSET)
            if value is _UNSET:
                continue
            if kind is not None and (value is None or type(value) is kind):
                data[name] = value
            else:
                data[name] = field.to_primitive(self, name, value)
        key = self._obj_primitive_key
        primitive = {
            key("name"): self.obj_name(),
            key("namespace"): self.OBJ_PROJECT_NAMESPACE,
            key("version"): self.VERSION,
            key("data"): data,
        }
        changes = [name for name in self.obj_what_changed() if name in data]
        if changes:
            primitive[key("changes")] = changes
        return primitive


class NubisPersistentObject:
    """Mixin with the timestamp and soft-delete fields of database-backed objects, and
    the conversion between a DB row and the object.

    ``_json_fields`` names fields stored as JSON text in the database; every other
    field maps to the column of the same name. Fields not in the row are left unset.
    """

    _json_fields: tuple[str, ...] = ()

    fields = {
        "created_at": nubis_fields.DateTimeField(nullable=True),
        "updated_at": nubis_fields.DateTimeField(nullable=True),
        "deleted_at": nubis_fields.DateTimeField(nullable=True),
        "deleted": ovo_fields.BooleanField(default=False),
    }

    @classmethod
    def _from_db_object(cls, context: Any, obj: Any, db_obj: Any) -> Any:
        """Fill *obj* from the row *db_obj*, bind it to *context*, reset its changes.

        Every field the row has is set through the field (coerced and checked), except
        a field that already holds what setting it would store (see :func:`_holds`).
        That is every field but ``updated_at`` when a save reloads the row it just
        wrote.
        """
        stored = obj.__dict__
        loaded = getattr(db_obj, "__dict__", {})  # a row's loaded columns, read directly
        json_fields = cls._json_fields
        for name, field in obj.fields.items():
            value = loaded.get(name, _UNSET)
            if value is _UNSET:
                try:
                    value = getattr(db_obj, name)
                except AttributeError:
                    continue
            if name in json_fields:
                value = jsonutils.loads(value) if value else field.default
            elif name == "deleted":
                value = bool(value)
            current = stored.get("_obj_" + name, _UNSET)
            if current is not _UNSET and _holds(current, value):
                continue
            setattr(obj, name, value)
        obj._context = context
        obj.obj_reset_changes()
        return obj

    def _changes_for_db(self) -> dict[str, Any]:
        """Return the changed fields as column values (JSON fields as text)."""
        updates: dict[str, Any] = self.obj_get_changes()  # type: ignore[attr-defined]
        for name in self._json_fields:
            if name in updates:
                updates[name] = jsonutils.dumps(updates[name])
        updates.pop("id", None)
        return updates


class ObjectListBase(ovo_base.ObjectListBase):
    """Base of the ``*List`` objects."""


class NubisObjectSerializer(ovo_base.VersionedObjectSerializer):
    """Serializes nubis objects; backports through the indirection API when needed."""

    OBJ_BASE_CLASS = NubisObject


def set_indirection_api(api: Any) -> None:
    """Make every remotable method in this process go through *api* (None: run here)."""
    NubisObject.indirection_api = api


def install_indirection(conf: cfg.ConfigOpts | None = None) -> Any:
    """Load the ``[indirection] api`` plugin, install it and return the instance."""
    from nubis.core import plugins

    conf = conf or cfg.CONF
    name = conf.indirection.api
    cls = plugins.load_one("nubis.indirection", name, "[indirection] api")
    api = cls()
    set_indirection_api(api)
    LOG.debug("remotable methods go through the %r indirection API", name)
    return api
