"""SMS through GOV.UK Notify, against a stand-in Notify API served on loopback."""

import json
import threading
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import Delivery, DevOutbox, Staff

SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
API_KEY = f"commonwatch_test-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = str(uuid.uuid4())
NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def notify():
    """A minimal GOV.UK Notify: checks the JWT like Notify does, records each SMS, and
    answers numbers ending in 99 with a 400 and ending in 98 with a 500."""
    received = []

    @Request.application
    def app(request):
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        except jwt.PyJWTError:
            return Response(json.dumps({"errors": [{"error": "AuthError"}]}), 403)
        if claims["iss"] != SERVICE_ID or request.path != "/v2/notifications/sms":
            return Response("{}", 403)
        body = request.get_json()
        if body["phone_number"].endswith("99"):
            return Response(json.dumps({"status_code": 400, "errors": [
                {"error": "BadRequestError", "message": "Not a valid number"}]}), 400,
                content_type="application/json")
        if body["phone_number"].endswith("98"):
            return Response("{}", 500, content_type="application/json")
        received.append(body)
        return Response(json.dumps({"id": str(uuid.uuid4()), "reference": body["reference"],
                                    "content": {"body": body["personalisation"]["body"]}}),
                        201, content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def test_sms_go_through_notify_with_the_delivery_as_reference(make_app, county, make_member,
                                                             make_staff, notify):
    base_url, received = notify
    app = make_app(NOTIFY_API_KEY=API_KEY, NOTIFY_SMS_TEMPLATE_ID=TEMPLATE_ID,
                   NOTIFY_BASE_URL=base_url)
    ok = make_member(area="E05900001", phone="+447400100001", channels=["sms"])
    make_member(area="E05900001", phone="+447400100099", channels=["sms"])  # refused
    make_member(area="E05900001", phone="+447400100098", channels=["sms"])  # Notify down
    supervisor = make_staff("supervisor", areas=["E07900001"])
    with app.app_context():
        sender = db.session.get(Staff, supervisor)
        message = create_message(sender, title="Flooding", body="Roads closed.",
                                 plain_text="Mill Lane is closed by flooding.",
                                 category="community_news", priority=2,
                                 target=Target(areas=["E05900001"]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, sender, at=NOON)
        states = dict(db.session.execute(select(Delivery.member_id, Delivery.state)).all())
        delivery_id = db.session.scalar(select(Delivery.id).where(Delivery.member_id == ok))
        assert db.session.scalar(select(DevOutbox.id)) is None
    assert received == [{
        "phone_number": "+447400100001", "template_id": TEMPLATE_ID,
        "personalisation": {"body": "Mill Lane is closed by flooding."},
        "reference": str(delivery_id),
    }]
    assert sorted(states.values()) == ["permanent-failure", "sent", "temporary-failure"]
    assert states[ok] == "sent"


def sent_sms(app, make_member, make_staff, phone="+447400100001"):
    member = make_member(area="E05900001", phone=phone, channels=["sms"])
    supervisor = make_staff("supervisor", areas=["E07900001"])
    with app.app_context():
        sender = db.session.get(Staff, supervisor)
        message = create_message(sender, title="T", body="B", plain_text="P",
                                 category="community_news", priority=2,
                                 target=Target(areas=["E05900001"]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, sender, at=NOON)
        return member, db.session.scalar(select(Delivery.id))


def test_notify_receipts_update_deliveries_when_signed(make_app, county, make_member,
                                                        make_staff):
    app = make_app(NOTIFY_CALLBACK_TOKEN="receipt-token-of-at-least-some-length")
    member, delivery_id = sent_sms(app, make_member, make_staff)
    client = app.test_client()
    receipt = {"id": str(uuid.uuid4()), "reference": str(delivery_id), "status": "delivered",
               "to": "+447400100001", "notification_type": "sms"}
    forged = client.post("/callbacks/notify", json=receipt,
                         headers={"Authorization": "Bearer guessed"})
    assert forged.status_code == 401 and forged.json == {
        "error": "a valid bearer token is required"}
    auth = {"Authorization": "Bearer receipt-token-of-at-least-some-length"}
    assert client.post("/callbacks/notify", data="not json", headers=auth).status_code == 400
    assert client.post("/callbacks/notify", json={**receipt, "reference": "x"},
                       headers=auth).json == {"error": "reference must be a delivery id"}
    assert client.post("/callbacks/notify", json={**receipt, "reference": "999999"},
                       headers=auth).status_code == 404
    with app.app_context():
        assert db.session.get(Delivery, delivery_id).state == "sent"
    response = client.post("/callbacks/notify", json=receipt, headers=auth)
    assert response.status_code == 200 and response.json["state"] == "delivered"
    with app.app_context():
        assert db.session.get(Delivery, delivery_id).state == "delivered"


def test_notify_receipts_are_refused_when_no_token_is_configured(make_app, county,
                                                                 make_member, make_staff):
    app = make_app()
    _member, delivery_id = sent_sms(app, make_member, make_staff)
    response = app.test_client().post(
        "/callbacks/notify", json={"reference": str(delivery_id), "status": "delivered"},
        headers={"Authorization": "Bearer "})
    assert response.status_code == 401
