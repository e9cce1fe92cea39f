"""Beat surgeries in the access matrix (core/testing/matrix.py): each side's officer
holds an open, moderated session for the side's ward, which the side's resident joined
under a pseudonym and posted in (one message published, one held), and where the
officer answered. Nobody of the other side may see, join, post in, moderate, open or
close it. Called from plugins/surgery/testing.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask


def _beat(side: Any) -> tuple[int, int]:
    """The side's session and its held message's id."""
    from core.api import Area, Staff, db, utcnow
    from plugins.surgery.live import schedule_beat
    from plugins.surgery.models import Participant, Post

    key, surname = side.key, side.surname
    officer = db.session.get(Staff, side.actors[f"officer_{key}"].id)
    ward = db.session.scalar(db.select(Area).where(Area.code == side.ward))
    now = utcnow()
    beat = schedule_beat(officer, ward, f"{surname} beat surgery", now,
                         now + timedelta(hours=1), moderated=True)
    beat.status = "open"
    participant = Participant(beat_id=beat.id, member_id=side.residents[0],
                              display_name=f"{surname} Owl")
    db.session.add(participant)
    db.session.flush()
    db.session.add_all([
        Post(beat_id=beat.id, participant_id=participant.id, author_name=f"{surname} Owl",
             body=f"Matrix{key} beat question", state="published", at=now,
             published_at=now),
        Post(beat_id=beat.id, staff_id=officer.id, author_name=officer.name,
             body=f"Matrix{key} beat answer", state="published", at=now, published_at=now),
    ])
    held = Post(beat_id=beat.id, participant_id=participant.id, author_name=f"{surname} Owl",
                body=f"Matrix{key} held beat message", state="held", at=now)
    db.session.add(held)
    db.session.commit()
    return beat.id, held.id


def _state(beat_id: int) -> Callable[[], Any]:
    def snapshot() -> Any:
        from core.api import db
        from plugins.surgery.models import Beat, Case, Participant, Post

        beat = db.session.get(Beat, beat_id)
        if beat is None:
            return None
        record = db.session.get(Case, beat.case_id)
        participants = db.session.execute(
            db.select(Participant.member_id, Participant.display_name)
            .where(Participant.beat_id == beat_id).order_by(Participant.id)).all()
        posts = db.session.execute(
            db.select(Post.id, Post.state, Post.body, Post.author_name)
            .where(Post.beat_id == beat_id).order_by(Post.id)).all()
        return [beat.status, beat.title, beat.moderated, beat.message_id, record.status,
                [tuple(p) for p in participants], [tuple(p) for p in posts]]

    return snapshot


def beat_providers(app: Flask, sides: dict[str, Any]) -> dict[str, dict[str, int]]:
    """A beat surgery for each side (side a's officer in ward E05900001, side b's in
    E05900012), with its title, pseudonym and messages as the side's secrets and its
    state watched; returns ``{"beat_id": {"a": id, "b": id}}``.

    The matrix walks every GET route, event streams included: its app's streams send
    what there is and end at once (``SURGERY_BEAT_STREAM_SECONDS = 0``) instead of
    staying open for minutes."""
    app.config["SURGERY_BEAT_STREAM_SECONDS"] = 0
    made: dict[str, int] = {}
    with app.app_context():
        for key, side in sides.items():
            made[key], held_id = _beat(side)
            side.watch(_state(made[key]))
            side.secrets.update({f"{side.surname} beat surgery", f"{side.surname} Owl",
                                 f"Matrix{key} beat question", f"Matrix{key} beat answer",
                                 f"Matrix{key} held beat message"})
            # The session's forms, so that a post across sides would change something if
            # scoping let it through.
            side.form.update({"body": f"Matrix{key} beat post", "appear_as": "pseudonym",
                              "display_name": f"Matrix{key} Joiner",
                              "post_id": str(held_id), "approve": "y"})
    return {"beat_id": made}


def xss_beat_objects(app: Flask, officer_id: int, residents: dict[int, str]
                     ) -> dict[int, dict[str, int]]:
    """For tests/test_xss.py: one open, moderated session of ``officer_id`` for the first
    resident's area, titled with the first payload, which each resident joined under
    their payload (cut to 60 characters) and posted it in, once published and once held;
    the officer answered with each payload. Returns ``{member_id: {"beat_id": id}}``.
    Streams end at once in ``app``, so walking every page does not wait on them."""
    from core.api import Member, Staff, db, utcnow
    from plugins.surgery.live import schedule_beat
    from plugins.surgery.models import Participant, Post

    app.config["SURGERY_BEAT_STREAM_SECONDS"] = 0
    with app.app_context():
        officer = db.session.get(Staff, officer_id)
        first = db.session.get(Member, next(iter(residents)))
        now = utcnow()
        beat = schedule_beat(officer, first.area, next(iter(residents.values()))[:200], now,
                             now + timedelta(hours=1), moderated=True)
        beat.status = "open"
        for member_id, payload in residents.items():
            participant = Participant(beat_id=beat.id, member_id=member_id,
                                      display_name=payload[:60])
            db.session.add(participant)
            db.session.flush()
            db.session.add_all([
                Post(beat_id=beat.id, participant_id=participant.id,
                     author_name=payload[:60], body=payload, state="published", at=now,
                     published_at=now),
                Post(beat_id=beat.id, participant_id=participant.id,
                     author_name=payload[:60], body=payload, state="held", at=now),
                Post(beat_id=beat.id, staff_id=officer.id, author_name=officer.name,
                     body=payload, state="published", at=now, published_at=now),
            ])
        db.session.commit()
        return {member_id: {"beat_id": beat.id} for member_id in residents}
