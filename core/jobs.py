"""Background jobs: on RQ when ``REDIS_URL`` is set, otherwise run in-process.

Jobs carry ids, never personal data; a job function looks up what it needs itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue, SimpleWorker


def redis_connection(app: Flask | None = None) -> redis.Redis:
    """A Redis client for the app's ``REDIS_URL`` (shared per app)."""
    app = app or current_app._get_current_object()
    state = app.extensions.setdefault("commonwatch_redis", {})
    if "client" not in state:
        state["client"] = redis.Redis.from_url(app.config["REDIS_URL"])
    return state["client"]


def queue_names(app: Flask | None = None) -> list[str]:
    """The RQ queues this deployment uses, most urgent first."""
    names = (app or current_app).config["RQ_QUEUES"]
    return [n.strip() for n in str(names).split(",") if n.strip()]


def enqueue(func: Callable[..., Any], *args: Any, queue: str = "default", **kwargs: Any) -> Any:
    """Run ``func(*args, **kwargs)`` in the background.

    With Redis configured the call is put on the RQ queue ``queue`` and the RQ job is
    returned. Without Redis (the embedded default) it runs now, in this process; a
    failure is logged, not raised, as a worker would.
    """
    if current_app.config.get("REDIS_URL"):
        config = current_app.config
        return Queue(queue, connection=redis_connection()).enqueue(
            func, *args, **kwargs,
            result_ttl=config["JOB_RESULT_TTL_SECONDS"],
            failure_ttl=config["JOB_FAILURE_TTL_SECONDS"],
        )
    try:
        func(*args, **kwargs)
    except Exception:
        current_app.logger.exception("in-process job %s failed", func.__qualname__)
    return None


def enqueue_many(func: Callable[..., Any], calls: list[tuple[Any, ...]],
                 queue: str = "default") -> None:
    """Run ``func(*args)`` for every ``args`` in ``calls`` in the background: with Redis,
    all the jobs go to the queue through one pipeline; without, they run now, in order."""
    if not current_app.config.get("REDIS_URL"):
        for args in calls:
            enqueue(func, *args)
        return
    config = current_app.config
    q = Queue(queue, connection=redis_connection())
    q.enqueue_many([
        Queue.prepare_data(func, args=args, result_ttl=config["JOB_RESULT_TTL_SECONDS"],
                           failure_ttl=config["JOB_FAILURE_TTL_SECONDS"])
        for args in calls
    ])


def run_worker(app: Flask, queues: list[str], burst: bool = False,
               logging_level: str = "INFO") -> None:
    """Process jobs from ``queues`` inside ``app``'s context until stopped (or, with
    ``burst``, until the queues are empty)."""
    connection = redis_connection(app)
    with app.app_context():
        worker = SimpleWorker([Queue(q, connection=connection) for q in queues],
                              connection=connection)
        worker.work(burst=burst, with_scheduler=not burst, logging_level=logging_level)
