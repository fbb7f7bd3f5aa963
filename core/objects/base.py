"""The base of every nubis versioned object, its registry and its serializer.

nubis objects are oslo.versionedobjects classes in the ``nubis`` namespace. A method
decorated with :func:`remotable` runs in this process when no indirection API is set,
and through :attr:`NubisObject.indirection_api` otherwise; :func:`set_indirection_api`
installs the plugin ``[indirection] api`` names (see :func:`install_indirection`).
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from oslo_config import cfg
from oslo_serialization import jsonutils
from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields as ovo_fields

LOG = logging.getLogger(__name__)

remotable = ovo_base.remotable
obj_make_list = ovo_base.obj_make_list


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


class NubisObjectDictCompat(ovo_base.VersionedObjectDictCompat):
    """Dict-style access (``obj['field']``) for objects that need it."""


class NubisPersistentObject:
    """Mixin with the timestamp and soft-delete fields of database-backed objects, and
    the conversion between a DB row and the object.

    ``_json_fields`` names fields stored as JSON text in the database; every other
    field maps to the column of the same name. Fields not in the row are left unset.
    """

    _json_fields: tuple[str, ...] = ()

    fields = {
        "created_at": ovo_fields.DateTimeField(nullable=True),
        "updated_at": ovo_fields.DateTimeField(nullable=True),
        "deleted_at": ovo_fields.DateTimeField(nullable=True),
        "deleted": ovo_fields.BooleanField(default=False),
    }

    @classmethod
    def _from_db_object(cls, context: Any, obj: Any, db_obj: Any) -> Any:
        """Fill *obj* from the row *db_obj*, bind it to *context*, reset its changes."""
        for name in obj.fields:
            if not hasattr(db_obj, name):
                continue
            value = getattr(db_obj, name)
            if name in cls._json_fields:
                value = jsonutils.loads(value) if value else obj.fields[name].default
            elif name == "deleted":
                value = bool(value)
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
