"""Revision 0005 keeps the images a 0004 database holds: not protected, no tags or
properties, and their names no longer need to be unique."""

import sqlalchemy
from alembic import command

from nubis.core.context import get_admin_context
from nubis.core.db import api as db_api
from nubis.core.db import engine, migration


def test_0005_keeps_images(empty_db_url):
    with engine.get_engine().begin() as connection:
        command.upgrade(migration.alembic_config(connection), "0004")
    with engine.get_engine().begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO images (uuid, name, status, disk_format, container_format, size, "
                "visibility, min_disk, min_ram) VALUES ('11111111-1111-1111-1111-111111111111', "
                "'cirros', 'active', 'qcow2', 'bare', 1024, 'public', 0, 0)"
            )
        )
    with engine.get_engine().begin() as connection:
        command.upgrade(migration.alembic_config(connection), "0005")
    ctx = get_admin_context()
    (image,) = db_api.image_get_all(ctx)
    assert (image.name, image.size, image.protected) == ("cirros", 1024, False)
    assert image.tags == [] and image.properties == {}
    twin = db_api.image_create(ctx, {"name": "cirros", "status": "queued", "visibility": "shared"})
    assert twin.size is None
    assert len(db_api.image_get_all(ctx, filters={"name": "cirros"})) == 2
    db_api.image_destroy(ctx, twin.uuid)
    with engine.get_engine().begin() as connection:
        command.downgrade(migration.alembic_config(connection), "0004")
    with engine.get_engine().connect() as connection:
        names = connection.execute(sqlalchemy.text("SELECT name FROM images")).scalars().all()
    assert names == ["cirros"]
