"""The demo command seeds a usable county and can be run twice."""

from sqlalchemy import func, select

from core.extensions import db
from core.models import Area, Member, Staff


def test_demo_seeds_the_county_staff_and_residents_and_is_repeatable(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--members", "120"])
    assert first.exit_code == 0, first.output
    assert "residents: 120 created" in first.output
    assert "resident@demo.example.org" in first.output and "wealdshire-demo-2026" in first.output
    second = runner.invoke(args=["demo", "--members", "120"])
    assert second.exit_code == 0 and "residents: 0 created" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Member.id))) == 120
        assert sorted(db.session.scalars(select(Staff.role))) == sorted(
            ["system_admin", "force_admin", "supervisor", "officer", "coordinator"])
        assert db.session.scalar(select(func.count(Area.id))) == 86
        with_interests = db.session.scalar(
            select(func.count(Member.id)).where(Member.interests.any()))
        assert with_interests > 60


def test_the_demo_resident_and_officer_can_sign_in(app):
    app.test_cli_runner().invoke(args=["demo", "--members", "20"])
    client = app.test_client()
    response = client.post("/sign-in", data={"email": "resident@demo.example.org",
                                             "password": "wealdshire-demo-2026"})
    assert response.status_code == 302
    assert "Your account" in client.get("/account").get_data(as_text=True)
    staff = app.test_client()
    response = staff.post("/staff/sign-in", data={"email": "pc.jones@demo.example.org",
                                                  "password": "wealdshire-demo-2026"})
    assert "/two-factor/setup" in response.location


def test_plugins_add_their_part_of_the_demo(app):
    """The insights plugin's made-up crimes and figures come with the demo (through
    commonwatch_demo_data), once."""
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--members", "60"])
    assert first.exit_code == 0, first.output
    assert "insights: imported 30 crimes for 2026-09" in first.output
    assert "insights: imported 31 crimes for 2026-10" in first.output
    second = runner.invoke(args=["demo", "--members", "60"])
    assert "imported" not in second.output
    from plugins.insights.models import Crime, Figures

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Crime)) == 61
        assert db.session.scalar(select(func.count()).select_from(Figures)) == 86
