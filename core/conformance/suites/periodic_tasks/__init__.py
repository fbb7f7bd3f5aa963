"""Suite of ``nubis.periodic_tasks``: task plugins a manager runs on a schedule.

A task is a function ``(manager, context)`` decorated with
:func:`nubis.core.periodic.periodic_task`. The suite checks its schedule, that it
refuses a manager it cannot work with in a clear NubisException (never an
AttributeError), and that it runs -- twice in a row, a periodic task being repeated
by nature -- on a real service of the kind that runs it, in an embedded deployment
(:mod:`nubis.core.conformance.deployment`, nubis-compute on the fake driver).

Extras:

* ``service`` -- the service whose manager runs the task (e.g. ``compute``). Default:
  the service whose ``[<service>] periodic_tasks`` lists the task; without one the
  test is reported as an environment that is missing.
"""
