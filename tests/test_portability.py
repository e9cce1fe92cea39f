"""Moving members between systems: export-members and import-members."""

import json

from sqlalchemy import func, select

from core.extensions import db
from core.members import export_record
from core.models import Member
from core.testing.pytest_plugin import fresh_database_url


def snapshot(app):
    with app.app_context():
        members = db.session.scalars(select(Member).order_by(Member.email)).all()
        return [export_record(m) for m in members]


def test_export_then_import_into_an_empty_database_gives_the_same_members(
        app, make_app, make_member, tmp_path, county):
    make_member(email="a@example.org", phone="+447400111222", channels=["email", "sms"],
                interests=["rural_watch.horse"], organisations=["wealdshire-police",
                                                                "ashendry-council"],
                demographics={"age_band": "75_plus"}, language="cy")
    make_member(email="b@example.org", area="E05900007", verified=False)
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.email == "a@example.org"))
        member.channels[1].by_night = False
        member.min_priority = 2
        db.session.commit()
    before = snapshot(app)
    out = tmp_path / "members.jsonl"
    result = app.test_cli_runner().invoke(args=["export-members", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "commonwatch-members", "version": 1}
    assert len(lines) == 3

    import os

    from core.schema import upgrade_database

    target = make_app(DATABASE_URL=fresh_database_url(
        os.environ.get("COMMONWATCH_TEST_DATABASE_URL"), "portability", tmp_path))
    with target.app_context():
        upgrade_database()
        from core.demo import seed_demo

        list(seed_demo(0))
    result = target.test_cli_runner().invoke(args=["import-members", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 2 members" in result.output
    after = snapshot(target)
    for record in after:
        assert record.pop("registration_method") == "import"
    for record in before:
        record.pop("registration_method")
    assert after == before
    with target.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_file_with_one_bad_record_imports_nothing(app, make_member, tmp_path, county):
    make_member(email="keep@example.org")
    good = export_line(app, "keep@example.org")
    path = tmp_path / "members.jsonl"
    header = json.dumps({"format": "commonwatch-members", "version": 1})
    cases = {
        "postcode": ("ZZ1 1ZZ", "postcode 'ZZ1 1ZZ' is not in the postcode table"),
        "email": ("not an email", "email 'not an email'"),
        "consents": ([{"organisation": "nobody", "given_at": "2024-01-01T00:00:00+00:00"}],
                     "unknown organisation"),
        "language": ("fr", "language 'fr'"),
        "channels": ([{"channel": "email"}, {"channel": "email"}], "a channel is listed twice"),
        "privacy_notice": ({"version": "1", "accepted_at": "2024-01-01T09:00:00"},
                           "has no time zone"),
    }
    with app.app_context():
        db.session.execute(Member.__table__.delete())
        db.session.commit()
    for field, (value, message) in cases.items():
        bad = dict(good, **{field: value})
        second = dict(good, email="second@example.org")
        path.write_text("\n".join([header, json.dumps(second), json.dumps(bad)]) + "\n")
        result = app.test_cli_runner().invoke(args=["import-members", str(path)])
        assert result.exit_code != 0
        assert "line 3" in result.output and message in result.output, result.output
        assert "Nothing was imported" in result.output
        with app.app_context():
            assert db.session.scalar(select(func.count(Member.id))) == 0


def test_importing_an_address_already_registered_is_refused(app, make_member, tmp_path):
    make_member(email="dup@example.org")
    path = tmp_path / "members.jsonl"
    path.write_text(json.dumps({"format": "commonwatch-members", "version": 1}) + "\n"
                    + json.dumps(export_line(app, "dup@example.org")) + "\n")
    result = app.test_cli_runner().invoke(args=["import-members", str(path)])
    assert result.exit_code != 0 and "line 2" in result.output
    assert "already registered" in result.output


def test_a_file_without_the_header_is_refused(app, tmp_path, county):
    path = tmp_path / "members.jsonl"
    path.write_text('{"email": "x@example.org"}\n')
    result = app.test_cli_runner().invoke(args=["import-members", str(path)])
    assert result.exit_code != 0 and "line 1" in result.output


def export_line(app, email):
    with app.app_context():
        return export_record(db.session.scalar(select(Member).where(Member.email == email)))
