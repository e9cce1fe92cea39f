"""Background jobs: in-process by default, on RQ workers with Redis."""

import pytest
from rq import Queue

from core.jobs import enqueue, redis_connection, run_worker


def test_without_redis_jobs_run_in_process(app, client, county, outbox):
    client.post("/password/forgot", data={"email": "nobody@example.org"})
    assert len(outbox) == 0
    from core.emails import send_password_reset

    with app.app_context():
        assert enqueue(send_password_reset, "m", 12345) is None  # ran now, found nobody


@pytest.mark.redis
def test_with_redis_a_worker_sends_the_email(make_app, redis_url, county, make_member, outbox):
    app = make_app(REDIS_URL=redis_url, RQ_QUEUES="commonwatch-test")
    connection = redis_connection(app)
    queue = Queue("commonwatch-test", connection=connection)
    queue.empty()
    with app.app_context():
        member_id = make_member(email="queued@example.org")
    response = app.test_client().post("/password/forgot", data={"email": "queued@example.org"})
    assert response.status_code == 200
    assert len(outbox) == 0 and queue.count == 0  # went to the default queue
    default = Queue("default", connection=connection)
    job = default.jobs[-1]
    assert job.args == ("m", member_id)  # ids only, never personal data
    run_worker(app, ["default"], burst=True)
    assert outbox.wait_for(1)[0]["To"] == "queued@example.org"
    assert default.count == 0


@pytest.mark.redis
def test_worker_command_refuses_to_start_without_redis(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL is not set" in result.output


def test_without_a_mail_server_emails_are_saved_for_the_developer(make_app, county,
                                                                    make_member, tmp_path):
    app = make_app(MAIL_SERVER=None)
    app.instance_path = str(tmp_path)
    with app.app_context():
        make_member(email="saved@example.org")
    app.test_client().post("/password/forgot", data={"email": "saved@example.org"})
    saved = list((tmp_path / "outbox").glob("*saved@example.org.eml"))
    assert len(saved) == 1
    assert "/password/reset/" in saved[0].read_text()


def _boom(member_id):
    raise RuntimeError("provider down")


@pytest.mark.redis
def test_failed_jobs_expire_within_the_retention_period(make_app, redis_url):
    from rq.registry import FailedJobRegistry

    app = make_app(REDIS_URL=redis_url)
    connection = redis_connection(app)
    Queue("default", connection=connection).empty()
    with app.app_context():
        job = enqueue(_boom, 42)
    run_worker(app, ["default"], burst=True)
    assert job.id in FailedJobRegistry("default", connection=connection).get_job_ids()
    ttl = connection.ttl(job.key)
    assert 0 < ttl <= app.config["JOB_FAILURE_TTL_SECONDS"] == 7 * 24 * 3600


@pytest.mark.redis
def test_jobs_carry_only_ids(make_app, redis_url, county, make_staff, login):
    """Every job the pages enqueue names its records by id, never by personal data."""
    app = make_app(REDIS_URL=redis_url)
    connection = redis_connection(app)
    queue = Queue("default", connection=connection)
    queue.empty()
    client = app.test_client()
    client.post("/register", data={
        "name": "Jobless Person", "email": "jobs@example.org",
        "password": "a long enough password", "password_confirm": "a long enough password",
        "address_line": "1 Mill Lane", "postcode": "HF1 1FJ", "channels": "email",
        "organisations": "1", "language": "en", "privacy": "y"})
    client.post("/password/forgot", data={"email": "jobs@example.org"})
    officer = login(app.test_client(), staff=make_staff("officer"))
    officer.post("/staff/members/new", data={
        "name": "Door Step", "email": "door@example.org", "address_line": "2 Mill Lane",
        "postcode": "HF1 1FJ", "channels": "email", "organisations": "1", "language": "en",
        "consent_confirmed": "y"})
    jobs = queue.get_jobs()
    assert len(jobs) >= 3
    for job in jobs:
        for value in [*job.args, *job.kwargs.values()]:
            assert isinstance(value, int) or value in ("m", "s"), (job.func_name, value)
