"""The nubis database API: every read and write the objects layer makes.

Contract of every public function here:

* it takes the request context first and runs as exactly one transaction, retried as a
  whole on transient errors (:mod:`nubis.core.db.retry`);
* it returns :mod:`nubis.core.db.models` instances, detached from any session with all
  columns loaded, or raises the specific :class:`~nubis.core.exception.NotFound`
  subclass (a duplicate raises the matching ``...Exists`` exception);
* soft-deleted rows are seen according to ``context.read_deleted``: ``'no'`` hides
  them, ``'yes'`` shows them too, ``'only'`` shows only them. Updates and deletes act
  on the rows a read with the same context would see;
* ``values`` dicts are keyed by column name and stored as given (JSON columns take JSON
  text). ``updated_at`` is set on every update unless ``values`` sets it.

Once :func:`block_db_access` has been called (nubis-compute does it), every function
raises :class:`~nubis.core.exception.DBNotAllowed`; the guard sits in
:mod:`nubis.core.db.engine`, the only way to a connection, so it covers new functions
too.

The functions live in one module per table family -- :mod:`.services`,
:mod:`.compute_nodes`, :mod:`.instances`, :mod:`.migration_records` (the ``migrations``
table), :mod:`.flavors`, :mod:`.instance_actions` (actions and their events),
:mod:`.instance_faults`, :mod:`.instance_tags`, :mod:`.server_groups`, :mod:`.images`,
:mod:`.identity`, :mod:`.aggregates` and :mod:`.task_log`;
:mod:`.archive` moves soft-deleted rows into the shadow tables and purges them (many
short transactions, not one) -- on the shared helpers of
:mod:`._transaction` (how a function becomes one retried transaction) and :mod:`._rows`
(visibility, inserts, keyed updates, soft deletes). Callers use this package only:
``from nubis.core.db import api as db_api``.
"""

from __future__ import annotations

# Not public: re-exported because tests reach them as ``api._keyed_update`` and
# ``api._update_one``.
from nubis.core.db.api._rows import _keyed_update as _keyed_update
from nubis.core.db.api._rows import _update_one as _update_one
from nubis.core.db.api._transaction import block_db_access, unblock_db_access
from nubis.core.db.api.aggregates import (
    AggregateDetails,
    aggregate_create,
    aggregate_delete,
    aggregate_get,
    aggregate_get_all,
    aggregate_host_add,
    aggregate_host_delete,
    aggregate_metadata_update,
    aggregate_update,
)
from nubis.core.db.api.archive import archive_deleted_rows, purge_shadow_tables
from nubis.core.db.api.compute_nodes import (
    compute_node_create,
    compute_node_delete,
    compute_node_get,
    compute_node_get_all,
    compute_node_get_all_by_host,
    compute_node_get_by_host_and_nodename,
    compute_node_get_by_uuid,
    compute_node_get_updated_since,
    compute_node_update,
)
from nubis.core.db.api.flavors import (
    FLAVOR_FILTERS,
    flavor_access_add,
    flavor_access_get,
    flavor_access_remove,
    flavor_create,
    flavor_destroy,
    flavor_extra_specs_delete,
    flavor_extra_specs_get,
    flavor_extra_specs_update_or_create,
    flavor_get,
    flavor_get_all,
    flavor_get_by_flavor_id,
    flavor_get_by_name,
    flavor_update,
)
from nubis.core.db.api.identity import (
    identity_project_create,
    identity_project_delete,
    identity_project_get,
    identity_project_get_all,
    identity_project_update,
    identity_role_assignment_add,
    identity_role_assignment_remove,
    identity_role_assignments_get,
    identity_role_create,
    identity_role_delete,
    identity_role_get_all,
    identity_roles_in_use,
    identity_user_auth_failed,
    identity_user_create,
    identity_user_delete,
    identity_user_get,
    identity_user_get_all,
    identity_user_rename_update,
    identity_user_update,
)
from nubis.core.db.api.images import (
    IMAGE_FILTERS,
    IMAGE_SORT_KEYS,
    image_create,
    image_destroy,
    image_get_all,
    image_get_by_name,
    image_get_by_uuid,
    image_update,
)
from nubis.core.db.api.instance_actions import (
    action_event_finish,
    action_event_start,
    action_events_get,
    action_finish,
    action_get_by_request_id,
    action_start,
    actions_get,
)
from nubis.core.db.api.instance_faults import (
    instance_fault_create,
    instance_fault_get_by_instance_uuids,
)
from nubis.core.db.api.instance_metadata import instance_metadata_update
from nubis.core.db.api.instance_tags import (
    INSTANCE_TAG_VM_STATES,
    MAX_INSTANCE_TAGS,
    MAX_TAG_LENGTH,
    instance_tag_add,
    instance_tag_delete,
    instance_tag_delete_all,
    instance_tag_exists,
    instance_tag_get_by_instance_uuid,
    instance_tag_get_by_instance_uuids,
    instance_tag_problem,
    instance_tag_set,
    instance_tag_shown,
)
from nubis.core.db.api.instances import (
    INSTANCE_FILTERS,
    INSTANCE_SORT_KEYS,
    TAG_FILTERS,
    TASK_STATE_DELETING,
    instance_create,
    instance_destroy,
    instance_get_all,
    instance_get_all_by_host,
    instance_get_all_by_host_and_node,
    instance_get_by_uuid,
    instance_update_and_get_original,
)
from nubis.core.db.api.key_pairs import (
    key_pair_count_by_user,
    key_pair_create,
    key_pair_destroy,
    key_pair_get,
    key_pair_get_all_by_user,
)
from nubis.core.db.api.migration_records import (
    MIGRATION_FILTERS,
    MIGRATION_STATUSES_NOT_IN_PROGRESS,
    migration_create,
    migration_get,
    migration_get_all,
    migration_get_all_by_instance,
    migration_get_by_uuid,
    migration_get_in_progress_by_host_and_node,
    migration_update,
)
from nubis.core.db.api.quotas import (
    quota_class_set,
    quota_destroy_all,
    quota_get_instance_limits_and_usage,
    quota_get_overrides,
    quota_get_user_limit_sums,
    quota_set,
    quota_usage_instances,
)
from nubis.core.db.api.server_groups import (
    instance_group_count,
    instance_group_create,
    instance_group_delete,
    instance_group_get,
    instance_group_get_all,
    instance_group_get_by_instance,
    instance_group_hosts,
    instance_group_member_count_by_user,
    instance_group_members_add,
    instance_group_members_get,
    instance_group_members_remove,
    instance_group_unplaced_count,
)
from nubis.core.db.api.services import (
    service_create,
    service_destroy,
    service_get,
    service_get_all,
    service_get_all_by_binary,
    service_get_all_by_topic,
    service_get_by_host_and_binary,
    service_get_hosts_by_topic,
    service_get_minimum_version,
    service_update,
)
from nubis.core.db.api.task_log import (
    task_log_begin_task,
    task_log_end_task,
    task_log_get,
    task_log_get_all,
)

__all__ = [
    "AggregateDetails",
    "aggregate_create",
    "aggregate_delete",
    "aggregate_get",
    "aggregate_get_all",
    "aggregate_host_add",
    "aggregate_host_delete",
    "aggregate_metadata_update",
    "aggregate_update",
    "task_log_begin_task",
    "task_log_end_task",
    "task_log_get",
    "task_log_get_all",
    "instance_metadata_update",
    "INSTANCE_TAG_VM_STATES",
    "MAX_INSTANCE_TAGS",
    "MAX_TAG_LENGTH",
    "TAG_FILTERS",
    "instance_tag_add",
    "instance_tag_delete",
    "instance_tag_delete_all",
    "instance_tag_exists",
    "instance_tag_get_by_instance_uuid",
    "instance_tag_get_by_instance_uuids",
    "instance_tag_problem",
    "instance_tag_set",
    "instance_tag_shown",
    "instance_group_count",
    "instance_group_create",
    "instance_group_delete",
    "instance_group_get",
    "instance_group_get_all",
    "instance_group_get_by_instance",
    "instance_group_hosts",
    "instance_group_member_count_by_user",
    "instance_group_members_add",
    "instance_group_members_get",
    "instance_group_members_remove",
    "instance_group_unplaced_count",
    "quota_class_set",
    "quota_destroy_all",
    "quota_get_instance_limits_and_usage",
    "quota_get_overrides",
    "quota_get_user_limit_sums",
    "quota_set",
    "quota_usage_instances",
    "key_pair_create",
    "key_pair_get",
    "key_pair_get_all_by_user",
    "key_pair_count_by_user",
    "key_pair_destroy",
    "MIGRATION_STATUSES_NOT_IN_PROGRESS",
    "TASK_STATE_DELETING",
    "block_db_access",
    "unblock_db_access",
    "service_create",
    "service_get",
    "service_get_by_host_and_binary",
    "service_get_all",
    "service_get_all_by_binary",
    "service_get_all_by_topic",
    "service_get_hosts_by_topic",
    "service_get_minimum_version",
    "service_update",
    "service_destroy",
    "compute_node_create",
    "compute_node_get",
    "compute_node_get_by_uuid",
    "compute_node_get_by_host_and_nodename",
    "compute_node_get_all",
    "compute_node_get_all_by_host",
    "compute_node_update",
    "compute_node_delete",
    "INSTANCE_FILTERS",
    "instance_create",
    "instance_get_by_uuid",
    "instance_get_all_by_host",
    "instance_get_all_by_host_and_node",
    "INSTANCE_SORT_KEYS",
    "instance_get_all",
    "instance_update_and_get_original",
    "instance_destroy",
    "migration_create",
    "migration_get",
    "migration_get_by_uuid",
    "migration_update",
    "migration_get_in_progress_by_host_and_node",
    "migration_get_all_by_instance",
    "MIGRATION_FILTERS",
    "migration_get_all",
    "FLAVOR_FILTERS",
    "flavor_create",
    "flavor_get",
    "flavor_get_by_flavor_id",
    "flavor_get_by_name",
    "flavor_get_all",
    "flavor_destroy",
    "flavor_update",
    "flavor_extra_specs_get",
    "flavor_extra_specs_update_or_create",
    "flavor_extra_specs_delete",
    "flavor_access_get",
    "flavor_access_add",
    "flavor_access_remove",
    "action_start",
    "action_finish",
    "action_get_by_request_id",
    "actions_get",
    "action_event_start",
    "action_event_finish",
    "action_events_get",
    "instance_fault_create",
    "instance_fault_get_by_instance_uuids",
    "compute_node_get_updated_since",
    "IMAGE_FILTERS",
    "IMAGE_SORT_KEYS",
    "image_create",
    "image_get_by_uuid",
    "image_get_by_name",
    "image_get_all",
    "image_update",
    "image_destroy",
    "identity_project_create",
    "identity_project_get",
    "identity_project_get_all",
    "identity_user_auth_failed",
    "identity_user_create",
    "identity_user_get",
    "identity_user_get_all",
    "identity_user_update",
    "identity_user_delete",
    "identity_role_assignment_add",
    "identity_role_assignment_remove",
    "identity_role_assignments_get",
    "identity_project_delete",
    "identity_project_update",
    "identity_role_create",
    "identity_role_delete",
    "identity_role_get_all",
    "identity_roles_in_use",
    "identity_user_rename_update",
    "archive_deleted_rows",
    "purge_shadow_tables",
]
