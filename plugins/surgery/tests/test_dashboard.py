"""The supervisors' dashboard: service-level figures over the concerns in their scope.

Every expected figure here was worked out by hand from the times set on the cases below
(the bank holidays of Easter 2026 are Friday 3 and Monday 6 April).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import event, select

from core.api import Area, Staff, db, utcnow
from plugins.surgery import cases
from plugins.surgery.dashboard import dashboard_figures
from plugins.surgery.models import Case
from plugins.surgery.sla import uk_date

NORTH, SOUTH, CHURCH_END = "E05900001", "E05900002", "E05900003"  # wards of Ashendry
BRACKENFORD_CENTRAL = "E05900005"  # a ward of Brackenford
ASHENDRY, BRACKENFORD = "E07900001", "E07900002"  # districts
WEALDSHIRE = "E10900001"  # the force area
# The fixture's months (March and April 2026), so the page shows the same figures
# whenever the tests run.
PERIOD = {"from": "2026-03", "to": "2026-04"}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class Tables(HTMLParser):
    """The tables of a page: ``{caption: [[cell text, ...], ...]}``, header rows included;
    texts with their whitespace collapsed."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: list[str] | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._name = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._rows, self._name = [], ""
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._name = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th"):
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self.tables[self._name] = self._rows

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)
        if self._cell is not None:
            self._cell.append(data)


def tables(response) -> dict[str, list[list[str]]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return Tables(response.get_data(as_text=True)).tables


@pytest.fixture
def surgery(app, make_staff):
    """Concerns with hand-set times in two teams of Ashendry, plus cases a supervisor of
    Ashendry must not count: a Brackenford team's, and one routed to the council.

    Ashendry North (A1-A4) and Ashendry South (B1-B4), all in March and April 2026:

    ====  =======================  =======================  =========  ==============
    case  submitted (UTC)          first reply (UTC)        due by     in time
    ====  =======================  =======================  =========  ==============
    A1    Mon 2 Mar 10:00          Wed 4 Mar 10:00 (48 h)   Mon 9 Mar  yes (2 wd)
    A2    Tue 3 Mar 09:00          Thu 12 Mar 09:00 (216 h) Tue 10 Mar no (7 wd)
    A3    Thu 5 Mar 12:00          none, still open         Thu 12 Mar no (overdue)
    A4    Wed 1 Apr 09:00          Thu 9 Apr 09:00 (192 h)  Fri 10 Apr yes (4 wd, Easter)
    B1    Mon 9 Mar 08:00          Mon 9 Mar 14:00 (6 h)    Mon 16 Mar yes (0 wd)
    B2    Tue 10 Mar 10:00         Mon 16 Mar 10:00 (144 h) Tue 17 Mar yes (4 wd)
    B3    Wed 11 Mar 10:00         closed without a reply   -          not counted
    B4    Thu 12 Mar 10:00         merged into B1           -          not counted
    ====  =======================  =======================  =========  ==============

    Also, raised today: S1 in Ashendry South, unanswered and due in two hours (due soon),
    and S2, unanswered and due in ten days (on time).
    """
    staff = {
        "north": make_staff("officer", areas=[NORTH], name="Officer North"),
        "south": make_staff("officer", areas=[SOUTH], name="Officer South"),
        "brackenford": make_staff("officer", areas=[BRACKENFORD_CENTRAL]),
        "council": make_staff("officer", areas=[CHURCH_END], organisation="ashendry-council"),
        "supervisor": make_staff("supervisor", areas=[ASHENDRY], name="Sergeant Ashendry"),
        "other_supervisor": make_staff("supervisor", areas=[BRACKENFORD]),
        "council_supervisor": make_staff("supervisor", areas=[ASHENDRY],
                                         organisation="ashendry-council"),
        "force_admin": make_staff("force_admin", areas=[WEALDSHIRE]),
    }
    with app.app_context():
        areas = {a.code: a for a in db.session.scalars(select(Area))}

        def raise_concern(code: str, topic: str, submitted: datetime,
                          first_reply: datetime | None = None, status: str | None = None
                          ) -> Case:
            found = cases.submit_case(topic=topic, description="Please help",
                                      area=areas[code], reply_channel="email",
                                      requester_name="A resident", now=submitted)
            found.first_reply_at = first_reply
            found.status = status or ("answered" if first_reply else "new")
            return found

        made = {
            "A1": raise_concern(NORTH, "speeding", utc(2026, 3, 2, 10), utc(2026, 3, 4, 10)),
            "A2": raise_concern(NORTH, "speeding", utc(2026, 3, 3, 9), utc(2026, 3, 12, 9)),
            "A3": raise_concern(NORTH, "drugs", utc(2026, 3, 5, 12)),
            "A4": raise_concern(NORTH, "speeding", utc(2026, 4, 1, 9), utc(2026, 4, 9, 9)),
            "B1": raise_concern(SOUTH, "antisocial_behaviour", utc(2026, 3, 9, 8),
                                utc(2026, 3, 9, 14)),
            "B2": raise_concern(SOUTH, "antisocial_behaviour", utc(2026, 3, 10, 10),
                                utc(2026, 3, 16, 10)),
            "B3": raise_concern(SOUTH, "other", utc(2026, 3, 11, 10), status="closed"),
            "B4": raise_concern(SOUTH, "drugs", utc(2026, 3, 12, 10)),
            # Out of the Ashendry supervisor's scope: another district, another force.
            "C1": raise_concern(BRACKENFORD_CENTRAL, "burglary", utc(2026, 3, 2, 10),
                                utc(2026, 3, 20, 10)),
            "C2": raise_concern(CHURCH_END, "burglary", utc(2026, 3, 2, 10)),
            "S1": raise_concern(SOUTH, "other", utcnow() - timedelta(days=1)),
            "S2": raise_concern(NORTH, "other", utcnow()),
        }
        # Police teams take concerns first, and the force administrator works force-wide:
        # C2 stands for a case a council team took where no police handler worked.
        made["C2"].organisation = db.session.get(Staff, staff["council"]).organisation
        made["C2"].team_area = areas[CHURCH_END]
        made["S1"].due_at = utcnow() + timedelta(hours=2)
        made["S2"].due_at = utcnow() + timedelta(days=10)
        cases.merge(made["B4"], made["B1"], db.session.get(Staff, staff["south"]),
                    now=utc(2026, 3, 12, 11))
        db.session.commit()
        # The fixture is what the docstring says: routing and due dates as expected.
        assert made["A1"].team_area.code == NORTH and made["B1"].team_area.code == SOUTH
        assert made["C1"].team_area.code == BRACKENFORD_CENTRAL
        assert made["C2"].organisation.slug == "ashendry-council"
        assert made["A1"].due_at == utc(2026, 3, 9, 23, 59, 59, 999999)
        assert made["A4"].due_at == utc(2026, 4, 10, 22, 59, 59, 999999)  # BST
        ids = {name: (found.id, found.reference) for name, found in made.items()}
    return {"staff": staff, "cases": ids}


def test_supervisor_sees_exact_figures_of_their_teams(app, client, login, surgery):
    login(client, staff=surgery["staff"]["supervisor"])
    page = tables(client.get("/surgery/dashboard", query_string=PERIOD))

    assert page["Service level"] == [
        ["Open concerns (no reply yet)", "1"],  # A3 (S1 and S2 are outside the months)
        ["Open and overdue", "1"],
        # Answered: 6, 48, 144, 192 and 216 hours; 0, 2, 4, 4 and 7 working days.
        ["Median time to first reply, in hours", "144"],
        ["Median time to first reply, in working days", "4"],
        # A1, A4, B1, B2 of A1-A4, B1, B2 (B3 closed unanswered and B4 merged left out).
        ["Answered within five working days", "4 of 6 (67%)"],
    ]
    assert page["By team"] == [
        ["Team", "Concerns", "Answered within five working days"],
        ["Ashendry North", "4", "2 of 4 (50%)"],
        ["Ashendry South", "2", "2 of 2 (100%)"],
    ]
    assert page["By month raised"] == [
        ["Month", "Answered within five working days"],
        ["March 2026", "3 of 5 (60%)"],
        ["April 2026", "1 of 1 (100%)"],
    ]
    # Topics by team: most frequent first, by their labels.
    assert page["Ashendry North"] == [
        ["Topic", "Concerns"], ["Speeding and road safety", "3"], ["Drugs", "1"]]
    assert page["Ashendry South"] == [["Topic", "Concerns"], ["Anti-social behaviour", "2"]]


def test_supervisor_sees_what_needs_a_reply_now_with_links(app, client, login, surgery):
    login(client, staff=surgery["staff"]["supervisor"])
    response = client.get("/surgery/dashboard", query_string=PERIOD)
    html = response.get_data(as_text=True)
    rows = tables(response)["2 unanswered concerns due soon or overdue"]

    a3_id, a3_ref = surgery["cases"]["A3"]
    s1_id, s1_ref = surgery["cases"]["S1"]
    assert [row[0] for row in rows] == ["Case", a3_ref, s1_ref]  # soonest due first
    assert rows[1][1:3] == ["Ashendry North", "Drugs"]
    assert rows[1][4:] == ["Thursday 12 Mar 2026", "Overdue"]
    assert rows[2][1:3] == ["Ashendry South", "Something else"]
    assert rows[2][5] == "Due soon"
    assert f'href="/surgery/queue/{a3_id}">{a3_ref}</a>' in html
    assert f'href="/surgery/queue/{s1_id}">{s1_ref}</a>' in html
    assert '<strong class="govuk-tag govuk-tag--red">Overdue</strong>' in html
    assert '<strong class="govuk-tag govuk-tag--orange">Due soon</strong>' in html
    # Not the one still on time, nor one of another district or organisation.
    for name in ("S2", "C1", "C2", "B3", "B4"):
        assert surgery["cases"][name][1] not in html


def test_nothing_out_of_scope_counts(app, client, login, surgery):
    login(client, staff=surgery["staff"]["supervisor"])
    html = client.get("/surgery/dashboard", query_string=PERIOD).get_data(as_text=True)
    assert "Brackenford" not in html  # C1's team
    assert "Church End" not in html  # C2, routed to the council
    assert "Burglary concern" not in html  # the topic of both


def test_supervisor_of_another_district_sees_none_of_ashendry(app, client, login, surgery):
    login(client, staff=surgery["staff"]["other_supervisor"])
    response = client.get("/surgery/dashboard", query_string=PERIOD)
    html = response.get_data(as_text=True)
    page = tables(response)
    assert page["By team"] == [
        ["Team", "Concerns", "Answered within five working days"],
        ["Brackenford Central", "1", "0 of 1 (0%)"],  # C1, answered after 18 days
    ]
    assert page["Service level"][0] == ["Open concerns (no reply yet)", "0"]
    assert page["Service level"][2] == ["Median time to first reply, in hours", "432"]
    assert "Ashendry" not in html
    assert "No unanswered concern is due soon or overdue." in html
    for name in ("A1", "A3", "S1", "C2"):
        assert surgery["cases"][name][1] not in html


def test_another_organisations_supervisor_sees_only_its_cases(app, client, login, surgery):
    login(client, staff=surgery["staff"]["council_supervisor"])
    response = client.get("/surgery/dashboard", query_string=PERIOD)
    page = tables(response)
    assert page["By team"][1:] == [["Church End", "1", "0 of 1 (0%)"]]  # C2, overdue
    assert "Ashendry North" not in response.get_data(as_text=True)


def test_force_admin_sees_the_whole_force(app, client, login, surgery):
    login(client, staff=surgery["staff"]["force_admin"])
    page = tables(client.get("/surgery/dashboard", query_string=PERIOD))
    assert [row[0] for row in page["By team"][1:]] == [
        "Ashendry North", "Ashendry South", "Brackenford Central"]
    assert page["Service level"][4] == ["Answered within five working days", "4 of 7 (57%)"]


def test_an_officer_is_refused(app, client, login, surgery):
    login(client, staff=surgery["staff"]["north"])
    assert client.get("/surgery/dashboard").status_code == 403


def test_the_months_chosen_limit_the_figures(app, client, login, surgery):
    login(client, staff=surgery["staff"]["supervisor"])
    april = tables(client.get("/surgery/dashboard",
                              query_string={"from": "2026-04", "to": "2026-04"}))
    assert april["By team"][1:] == [["Ashendry North", "1", "1 of 1 (100%)"]]
    assert april["Service level"][0] == ["Open concerns (no reply yet)", "0"]
    # What needs a reply now does not depend on the months.
    assert "2 unanswered concerns due soon or overdue" in april

    html = client.get("/surgery/dashboard",
                      query_string={"from": "2025-01", "to": "2025-02"}).get_data(as_text=True)
    assert "Concerns raised from January 2025 to February 2025" in html
    assert "No concerns were raised in these months." in html


def test_a_wrong_month_is_explained_and_the_default_shown(app, client, login, surgery):
    login(client, staff=surgery["staff"]["supervisor"])
    response = client.get("/surgery/dashboard", query_string={"from": "March", "to": "2026-04"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in html
    assert "Enter a month as a year and month, like 2026-03" in html

    html = client.get("/surgery/dashboard",
                      query_string={"from": "2026-04", "to": "2026-03"}).get_data(as_text=True)
    assert "The last month must be the same as or after the first month" in html


def test_the_last_twelve_months_by_default(app, client, login, surgery):
    login(client, staff=surgery["staff"]["supervisor"])
    html = client.get("/surgery/dashboard").get_data(as_text=True)
    today = uk_date(utcnow())
    months_ago = today.year * 12 + today.month - 1 - 11
    assert f'name="from" type="text" value="{months_ago // 12}-{months_ago % 12 + 1:02d}"' in html
    assert f'name="to" type="text" value="{today:%Y-%m}"' in html


def test_the_dashboard_reads_cases_in_one_query(app, surgery):
    """However many cases, one SELECT (no loading of each case's rows)."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.test_request_context():
        staff = db.session.get(Staff, surgery["staff"]["supervisor"])
        assert staff.organisation.slug == "wealdshire-police"  # loaded before counting
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            board = dashboard_figures(staff, date(2026, 3, 1), date(2026, 4, 1))
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert board.figures.in_time.total == 6
    assert len(board.needs_attention) == 2
    assert len(statements) == 1
