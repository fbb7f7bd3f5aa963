"""``nubis-manage image ...``: the local image registry.

* ``image import NAME FILE [--private --owner PROJECT] [--min-disk GB] [--min-ram MB]``
  — copy FILE into ``[api] images_path`` as image NAME (qcow2 or raw);
* ``image list`` — id, name, format, size, status, visibility;
* ``image delete NAME_OR_ID`` — remove an image no instance boots from (and that is not
  protected).

Images created through the Image API (``openstack image create``) are listed and deleted
here too; the import and the API upload share :mod:`nubis.core.images.store`.
"""

from __future__ import annotations

from typing import Any

from nubis.core.conf import CONF
from nubis.core.context import get_admin_context


def _api() -> Any:
    from nubis.core.api.image_registry import ImageAPI

    return ImageAPI(CONF)


def image_import() -> int:
    args = CONF.category
    image = _api().import_file(
        get_admin_context(),
        args.image_name,
        args.file,
        visibility="private" if args.private else "public",
        owner=args.owner,
        min_disk=args.min_disk,
        min_ram=args.min_ram,
    )
    print(
        f"imported image {image.name} ({image.uuid}): {image.disk_format}, {image.size} bytes, "
        f"virtual size {image.virtual_size} bytes"
    )
    return 0


def image_list() -> int:
    images = _api().list(get_admin_context())
    if not images:
        print("no images")
        return 0
    print(f"{'id':<36} {'name':<24} {'format':<6} {'size':>12} {'status':<8} visibility")
    for image in images:
        size = "-" if image.size is None else str(image.size)
        print(
            f"{image.uuid:<36} {image.name or '':<24} {image.disk_format or '-':<6} "
            f"{size:>12} {image.status:<8} {image.visibility}"
        )
    return 0


def image_delete() -> int:
    image = _api().delete(get_admin_context(), CONF.category.image)
    print(f"deleted image {image.name} ({image.uuid})")
    return 0


def add_parsers(subparsers: Any) -> None:
    parser = subparsers.add_parser("image", help="the local image registry")
    sub = parser.add_subparsers(dest="action", required=True)

    importing = sub.add_parser("import", help="copy an image file into the registry")
    importing.add_argument("image_name", metavar="NAME")
    importing.add_argument("file")
    importing.add_argument(
        "--private", action="store_true", help="visible to --owner's project only"
    )
    importing.add_argument("--owner", help="project id owning the image")
    importing.add_argument("--min-disk", type=int, default=0, help="GiB of root disk needed")
    importing.add_argument("--min-ram", type=int, default=0, help="MiB of RAM needed")
    importing.set_defaults(func=image_import)

    sub.add_parser("list", help="list images").set_defaults(func=image_list)

    delete = sub.add_parser("delete", help="delete an image no instance uses")
    delete.add_argument("image", help="name or id")
    delete.set_defaults(func=image_delete)
