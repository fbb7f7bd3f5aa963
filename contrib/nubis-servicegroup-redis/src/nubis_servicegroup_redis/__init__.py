"""nubis-servicegroup-redis: a membership (``nubis.servicegroup``) driver on Redis.

The driver is :class:`nubis_servicegroup_redis.driver.RedisDriver`, installed as the
entry point ``nubis.servicegroup: redis``; its options are ``[redis_servicegroup]``
(:mod:`nubis_servicegroup_redis.conf`).
"""
