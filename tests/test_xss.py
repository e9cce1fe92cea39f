"""Hostile text through every form, then every page: nothing comes back unescaped.

A corpus of payloads (HTML and attribute breakers, a javascript: URL, template syntax,
spreadsheet formulas...) is stored through the forms that accept free text: registration
and profile (name, address), doorstep registration by an officer, and a staff account
created by a force administrator (name). Then every GET route of ``app.url_map`` is
visited, with the ids and tokens of what was created, by a visitor, each resident, an
officer, a supervisor and a force administrator, and every HTML response must:

- contain no payload as it was typed where that could make markup (only its escaped
  form), no ``on*`` attribute, no ``javascript:`` link and no script without ``src`` or
  the page's nonce;
- show each stored value, escaped, where it belongs (parsing the page gives back the
  exact text).

Every form with a text field found on those pages is then submitted with a payload in
each text field; the page that comes back with errors must show each one escaped in its
field. Staff messages are written with the payloads too (drafts: title, message, SMS
text), residents reply to them with the payloads through the reply link, and those pages
are visited the same way. The CSV export must defuse spreadsheet
formulas (with a leading quote), the JSON download must carry the values exactly, and the
emails that show them must be plain text only.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from core.extensions import db
from core.models import Member, Message, Organisation, Postcode, Staff
from core.security import make_token, password_fingerprint
from core.testing.pytest_plugin import postcode_in

#: Walks every route of the app: run once, on PostgreSQL in CI (see the Makefile).
pytestmark = pytest.mark.walk

WARD_A = "E05900001"
DISTRICT = "E07900001"
FORCE = "E10900001"
PASSWORD = "tidal orchard lantern nine"
#: Added to the name and address by the profile form, so its saving is seen.
PROFILE = " (profile)"

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}",
    "{% raw %}{{ config.SECRET_KEY }}{% endraw %}{{ config }}",
    "</textarea><script>x</script>",
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "&lt;b&gt;already escaped&lt;/b&gt; %(name)s %s {0}",
]
#: Cells starting with these are formulas to spreadsheet software.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_INPUTS = {"text", "email", "tel", "search", "url", "number"}


# -- reading pages -------------------------------------------------------------------------------


@dataclass
class FormField:
    tag: str
    type: str
    name: str
    value: str = ""
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def is_text(self) -> bool:
        return self.tag == "textarea" or (self.tag == "input" and self.type in TEXT_INPUTS)


@dataclass
class Form:
    method: str
    action: str | None
    fields: list[FormField] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        return [f.value for f in self.fields if f.name == name]


class Page(HTMLParser):
    """An HTML page as a browser would read it: its texts, attributes, scripts, forms."""

    def __init__(self, body: str) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: FormField | None = None
        self._select: FormField | None = None
        self.feed(body)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.attributes.extend((tag, k, v or "") for k, v in attrs)
        if tag == "script":
            self.scripts.append(found)
        elif tag == "form":
            self._form = Form((found.get("method") or "get").lower(), found.get("action"))
            self.forms.append(self._form)
        elif self._form is not None and found.get("name"):
            if tag == "input":
                self._form.fields.append(FormField(
                    tag, (found.get("type") or "text").lower(), found["name"],
                    found.get("value") or "", "checked" in found))
            elif tag == "textarea":
                self._textarea = FormField(tag, "textarea", found["name"])
                self._form.fields.append(self._textarea)
            elif tag == "select":
                self._select = FormField(tag, "select", found["name"])
                self._form.fields.append(self._select)
        if tag == "option" and self._select is not None:
            self._select.options.append((found.get("value") or "", "selected" in found))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._textarea is not None:
            self._textarea.value += data

    def shows(self, value: str) -> bool:
        """Whether ``value`` is in the page's text, exactly as typed."""
        return any(value in text for text in self.texts)

    def has_value(self, name: str, value: str) -> bool:
        """Whether a form field ``name`` holds ``value``, exactly as typed."""
        return any(value in form.values(name) for form in self.forms)


def unescaped(body: str) -> list[str]:
    """The payloads in ``body`` as typed where that could make markup: one with ``<`` or
    ``>`` anywhere, one with a quote inside a tag (where it would end an attribute).

    A quote in text is harmless, and ``&lt;`` typed into Markdown is meant as an entity:
    whether each value reads exactly as typed is checked where it is shown."""
    found = []
    for payload in PAYLOADS:
        if "<" in payload or ">" in payload:
            if payload in body:
                found.append(payload)
        elif "'" in payload or '"' in payload:
            for match in re.finditer(re.escape(payload), body):
                before = body[:match.start()]
                if before.rfind("<") > before.rfind(">"):  # inside a tag
                    found.append(payload)
                    break
    return found


def structural_problems(page: Page) -> list[str]:
    """Signs of injected markup: event handlers, javascript: URLs, stray scripts."""
    problems = []
    for tag, name, value in page.attributes:
        if name.startswith("on"):
            problems.append(f"<{tag} {name}=...>")
        url = "".join(value.split()).lower()
        if name in ("href", "src", "action", "formaction", "xlink:href") and \
                url.startswith(("javascript:", "data:text/html")):
            problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and name == "src" and value == "x":
            problems.append("<img src=x>")
    for script in page.scripts:
        if not script.get("src") and not script.get("nonce"):
            problems.append(f"<script {script}> with neither src nor nonce")
    return problems


# -- the world: payloads stored through the forms ---------------------------------------------


@dataclass
class Visitor:
    label: str
    client: FlaskClient
    kind: str  # anonymous, member, officer, supervisor, force_admin
    id: int | None = None
    #: What the visitor's own pages must show (their name and address).
    own: list[str] = field(default_factory=list)


@dataclass
class World:
    app: Flask
    police: int
    postcode: str
    #: member id -> payload, for residents who registered themselves (and then edited
    #: their profile) and for residents an officer registered on the doorstep.
    residents: dict[int, str] = field(default_factory=dict)
    doorstep: dict[int, str] = field(default_factory=dict)
    staff_accounts: dict[int, str] = field(default_factory=dict)
    #: draft message id -> payload (its title, message and SMS text), by the officer.
    messages: dict[int, str] = field(default_factory=dict)
    #: reply id -> payload (what a resident wrote through the reply link of a message).
    replies: dict[int, str] = field(default_factory=dict)
    #: verification code -> payload (the title and text of a sent, public alert).
    public_alerts: dict[str, str] = field(default_factory=dict)
    visitors: list[Visitor] = field(default_factory=list)
    urls: dict[str, list[str]] = field(default_factory=dict)
    #: resident id -> route argument -> id of a plugin object named with the resident's
    #: payload (a watch scheme they coordinate, a hidden group they chair, its document).
    plugin_objects: dict[int, dict[str, int]] = field(default_factory=dict)
    #: API token id -> payload (its name), one per resident, made on the tokens page.
    api_tokens: dict[int, str] = field(default_factory=dict)

    def member_name(self, member_id: int) -> str:
        payload = self.residents.get(member_id)
        return payload + PROFILE if payload is not None else self.doorstep[member_id]

    def staff_visitors(self) -> list[Visitor]:
        return [v for v in self.visitors if v.kind not in ("anonymous", "member")]


def resident_form(world: World, **values: Any) -> dict[str, Any]:
    data = {"postcode": world.postcode, "phone": "", "channels": ["email"],
            "organisations": [str(world.police)], "language": "en"}
    data.update(values)
    return data


def page_problem(response: Any) -> str:
    """The status and the error messages of a page that refused a form."""
    body = response.get_data(as_text=True)
    errors = re.findall(r'class="govuk-error-message"[^>]*>(.*?)</p>', body, re.DOTALL)
    return f"{response.status_code}: " + " | ".join(" ".join(e.split()) for e in errors)


@pytest.fixture
def world(app: Flask, county: Any, make_staff: Any, login: Any, outbox: Any) -> World:
    with app.app_context():
        police = db.session.scalar(
            select(Organisation.id).where(Organisation.slug == county["police"]))
        postcode = postcode_in(WARD_A)
    world = World(app, police, postcode)
    world.visitors.append(Visitor("a visitor", app.test_client(), "anonymous"))

    names = iter(PAYLOADS)
    for kind, areas in (("officer", [WARD_A]), ("supervisor", [DISTRICT]),
                        ("force_admin", [FORCE])):
        name = next(names)
        staff_id = make_staff(kind, areas=areas, name=name)
        client = login(app.test_client(), staff=staff_id)
        world.visitors.append(Visitor(f"a {kind}", client, kind, staff_id, [name]))
    officer, _supervisor, force_admin = world.staff_visitors()

    for i, payload in enumerate(PAYLOADS):
        # Registration signs the new resident in: the client becomes theirs.
        client = app.test_client()
        response = client.post("/register", data=resident_form(
            world, name=payload, address_line=payload, email=f"self{i}@example.org",
            password=PASSWORD, password_confirm=PASSWORD, privacy="y"))
        assert response.status_code == 302, page_problem(response)
        with app.app_context():
            member = db.session.scalar(select(Member).where(Member.email == f"self{i}@example.org"))
            assert (member.name, member.address_line) == (payload, payload)
            member_id = member.id
        response = client.post("/account/profile", data=resident_form(
            world, name=payload + PROFILE, address_line=payload + PROFILE,
            email=f"self{i}@example.org"))
        assert response.status_code == 302, page_problem(response)
        world.residents[member_id] = payload
        world.visitors.append(Visitor(f"resident {i}", client, "member", member_id,
                                      [payload + PROFILE]))

        response = officer.client.post("/staff/members/new", data=resident_form(
            world, name=payload, address_line=payload, email=f"door{i}@example.org",
            consent_confirmed="y"))
        assert response.status_code == 302, page_problem(response)
        # The confirmation message names the resident.
        body = officer.client.get(response.location).get_data(as_text=True)
        assert Page(body).shows(f"{payload} is registered"), payload
        assert not unescaped(body), payload

        response = force_admin.client.post("/staff/accounts/new", data={
            "name": payload, "email": f"new-staff{i}@police.example.org", "role": "officer",
            "area_codes": WARD_A, "active": "y"})
        assert response.status_code == 302, page_problem(response)

        if "messages.new" in app.view_functions:  # a draft message, not sent
            response = officer.client.post("/staff/messages/new", data={
                "title": payload, "body": payload, "plain_text": payload,
                "category": "community_news", "priority": "3", "areas": WARD_A})
            assert response.status_code == 302, page_problem(response)
            world.messages[int(response.location.rstrip("/").split("/")[-2])] = payload

    if "replies.reply" in app.view_functions:  # each resident replies to a message
        from core.models import Reply
        from core.replies import reply_token

        for message_id, member_id in zip(world.messages, world.residents, strict=False):
            payload = world.messages[message_id]
            with app.app_context():
                token = reply_token(message_id, member_id)
            response = app.test_client().post(f"/reply/{token}", data={"body": payload})
            assert response.status_code == 302, page_problem(response)
            with app.app_context():
                reply = db.session.scalar(select(Reply).order_by(Reply.id.desc()))
                assert reply.body == payload
                world.replies[reply.id] = payload

    if "verify.check" in app.view_functions:  # sent, public alerts for the public pages
        world.public_alerts = publish_alerts(app, world.staff_visitors()[0].id)

    if "neighbourhood_watch.scheme" in app.view_functions:
        world.plugin_objects = neighbourhood_watch_objects(app, world)
    if "business_watch.edit" in app.view_functions:
        for member_id, ids in business_watch_objects(app, world).items():
            world.plugin_objects.setdefault(member_id, {}).update(ids)
    if "surgery.case" in app.view_functions:
        for member_id, ids in surgery_objects(app, world).items():
            world.plugin_objects.setdefault(member_id, {}).update(ids)
    if "surgery.beat_page" in app.view_functions:
        from plugins.surgery.testing_live import xss_beat_objects

        for member_id, ids in xss_beat_objects(app, world.staff_visitors()[0].id,
                                               world.residents).items():
            world.plugin_objects.setdefault(member_id, {}).update(ids)

    from core.models import ApiToken

    for member_id, payload in world.residents.items():  # each names a token for an app
        client = next(v.client for v in world.visitors if v.kind == "member"
                      and v.id == member_id)
        response = client.post("/account/api-tokens", data={
            "name": payload[:100], "scopes": ["read"], "submit": "y"})
        assert response.status_code == 200, page_problem(response)
        assert not unescaped(response.get_data(as_text=True)), payload
        with app.app_context():
            token = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
            assert token.name == payload[:100] and token.member_id == member_id
            world.api_tokens[token.id] = payload

    if "surveys.answer" in app.view_functions:
        for member_id, ids in surveys_objects(app, world).items():
            world.plugin_objects.setdefault(member_id, {}).update(ids)

    with app.app_context():
        for member_id, payload in world.residents.items():
            member = db.session.get(Member, member_id)
            assert (member.name, member.address_line) == (payload + PROFILE,) * 2
        for i, payload in enumerate(PAYLOADS):
            member = db.session.scalar(select(Member).where(Member.email == f"door{i}@example.org"))
            assert (member.name, member.address_line) == (payload, payload)
            world.doorstep[member.id] = payload
            staff = db.session.scalar(
                select(Staff).where(Staff.email == f"new-staff{i}@police.example.org"))
            assert staff.name == payload
            world.staff_accounts[staff.id] = payload
    return world


def neighbourhood_watch_objects(app: Flask, world: World) -> dict[int, dict[str, int]]:
    """For each resident: a scheme in ward A they coordinate and a hidden group they
    chair, both named and described with their payload, and a document of the group
    titled with it."""
    from core.models import Area
    from plugins.neighbourhood_watch.groups import Checked, store
    from plugins.neighbourhood_watch.models import Group, GroupMember, Scheme, SchemeMember

    made = {}
    with app.app_context():
        ward = db.session.scalar(select(Area).where(Area.code == WARD_A))
        for member_id, payload in world.residents.items():
            scheme = Scheme(name=payload, description=payload, organisation_id=world.police,
                            areas=[ward], level="police")
            group = Group(name=payload, description=payload, visibility="hidden",
                          organisation_id=world.police, area_id=ward.id)
            db.session.add_all([scheme, group])
            db.session.flush()
            place = SchemeMember(scheme_id=scheme.id, member_id=member_id, role="main",
                                 status="active")
            membership = GroupMember(group_id=group.id, member_id=member_id, role="chair",
                                     status="active")
            db.session.add_all([place, membership])
            document = store(group, payload, Checked("notes.txt", "text/plain", b"notes"),
                             db.session.get(Member, member_id))
            db.session.commit()
            made[member_id] = {"scheme_id": scheme.id, "request_id": place.id,
                               "group_id": group.id, "membership_id": membership.id,
                               "document_id": document.id}
    return made


def publish_alerts(app: Flask, officer_id: int) -> dict[str, str]:
    """Send a public alert to ward A per payload (title, message, SMS text and outcome
    note), as the officer; their verification codes."""
    from core.messaging import Target, create_message, send
    from core.outcomes import record_outcome

    codes = {}
    with app.app_context():
        officer = db.session.get(Staff, officer_id)
        for payload in PAYLOADS:
            message = create_message(
                officer, title=payload, body=payload, plain_text=payload, public=True,
                category="witness_appeal", priority=3, target=Target(areas=[WARD_A]).to_json())
            db.session.add(message)
            db.session.commit()
            send(message, officer)
            record_outcome(message, officer, "found", payload)
            db.session.commit()
            codes[message.code_for_reading] = payload
    return codes


# -- visiting every page ------------------------------------------------------------------------


def tokens(world: World, endpoint: str, visitor: Visitor) -> list[str]:
    """Tokens for the routes that take one, as the emails would carry them."""
    with world.app.app_context():
        if endpoint == "account.verify_email":
            member_id = visitor.id if visitor.kind == "member" else next(iter(world.residents))
            member = db.session.get(Member, member_id)
            return [make_token("verify-email", {"m": member.id, "e": member.email})]
        if endpoint == "account.confirm_doorstep":
            ids = list(world.doorstep) if visitor.kind == "anonymous" else \
                list(world.doorstep)[:1]
            members = [db.session.get(Member, i) for i in ids]
            return [make_token("doorstep", {"m": m.id, "e": m.email}) for m in members]
        if endpoint == "account.unsubscribe":  # the link at the foot of every email
            member_id = visitor.id if visitor.kind == "member" else next(iter(world.residents))
            return [make_token("unsubscribe", {"m": member_id})]
        if endpoint in ("replies.reply", "replies.rate_useful", "replies.rate_not_useful"):
            # The links in an alert: a resident's, for a message whose title is a payload.
            from core.replies import reply_token

            member_id = visitor.id if visitor.kind == "member" else next(iter(world.residents))
            return [reply_token(next(iter(world.messages)), member_id)]
        if endpoint == "surveys.answer":  # the link in a survey invitation
            from core.api import personal_url
            from plugins.surveys.models import Batch

            member_id = visitor.id if visitor.kind == "member" else next(iter(world.residents))
            message = db.session.get(Message, db.session.scalar(select(Batch.message_id)))
            return [personal_url(message, member_id).rsplit("/", 1)[-1]]
        if endpoint == "surveys.public_answer":
            return ["xss-public-survey"]
        if endpoint == "auth.reset_password":
            member = db.session.get(Member, next(iter(world.residents)))
            staff = db.session.get(Staff, next(iter(world.staff_accounts)))
            return [make_token("reset", {"k": kind, "u": user.id,
                                         "f": password_fingerprint(user)})
                    for kind, user in (("m", member), ("s", staff))]
    pytest.fail(f"no token for {endpoint}: add it to tokens() in tests/test_xss.py")


def business_watch_objects(app: Flask, world: World) -> dict[int, dict[str, int]]:
    """For each resident: a business named, addressed and with opening hours of their
    payload."""
    from plugins.business_watch.models import Business

    made = {}
    with app.app_context():
        postcode = db.session.get(Postcode, world.postcode)
        for member_id, payload in world.residents.items():
            business = Business(member_id=member_id, name=payload, sector="retail",
                                address_line=payload, postcode=postcode.postcode,
                                area_id=postcode.area_id, opening_hours=payload)
            db.session.add(business)
            db.session.commit()
            made[member_id] = {"business_id": business.id}
    return made


def surgery_objects(app: Flask, world: World) -> dict[int, dict[str, int]]:
    """For each resident: a concern described and placed with their payload, which they
    added to, and the officer replied to and noted on with it (a note the resident never
    sees)."""
    from plugins.surgery import cases

    officer = world.staff_visitors()[0]
    made = {}
    with app.app_context():
        staff = db.session.get(Staff, officer.id)
        for member_id, payload in world.residents.items():
            member = db.session.get(Member, member_id)
            found = cases.submit_case(topic=payload, description=payload, area=member.area,
                                      reply_channel="email", member=member, location=payload)
            cases.add_information(found, payload)
            cases.add_note(found, staff, payload)
            cases.reply(found, staff, payload, status="awaiting_resident")
            made[member_id] = {"case_id": found.id}
        # The first case carries every payload, in every kind of entry, so that staff
        # pages can be walked on it alone (see values_for).
        first = db.session.get(cases.Case, next(iter(made.values()))["case_id"])
        for payload in world.residents.values():
            cases.add_information(first, payload)
            cases.add_note(first, staff, payload)
        db.session.commit()
    return made


def surveys_objects(app: Flask, world: World) -> dict[int, dict[str, Any]]:
    """One public survey of the officer's, its title, introduction, section, questions
    and choices each a payload, in a round every resident was invited to and answered
    in their own words (their payload); every resident gets its ids."""
    from core.api import Target
    from plugins.surveys.models import Answer, Question, Response, Section, Survey
    from plugins.surveys.rounds import invitation_texts, start_round

    officer = world.staff_visitors()[0]
    payloads = list(world.residents.values())
    with app.app_context():
        staff = db.session.get(Staff, officer.id)
        survey = Survey(organisation_id=staff.organisation_id, created_by_id=staff.id,
                        title=payloads[0], title_cy=payloads[1], introduction=payloads[2],
                        public=True, public_key="xss-public-survey")
        section = Section(title=payloads[3], position=0)
        survey.sections.append(section)
        kinds = ("single", "multiple", "rank", "text")
        for position, kind in enumerate(kinds):
            survey.questions.append(Question(
                kind=kind, text=payloads[position], section=section, position=position,
                options=[] if kind == "text" else payloads[:4]))
        db.session.add(survey)
        db.session.flush()
        start_round(survey, staff, Target(), invitation_texts(survey))
        round_ = survey.rounds[0]
        text_question = survey.questions[-1]
        for member_id, payload in world.residents.items():
            member = db.session.get(Member, member_id)
            db.session.add(Response(round_id=round_.id, member_id=member_id,
                                    state="submitted", area_id=member.area_id,
                                    answers=[Answer(question_id=text_question.id,
                                                    text=payload),
                                             Answer(question_id=survey.questions[0].id,
                                                    value=0)]))
        db.session.commit()
        ids = {"survey_id": survey.id, "question_id": text_question.id}
    return {member_id: dict(ids) for member_id in world.residents}


def values_for(world: World, endpoint: str, argument: str, visitor: Visitor) -> list[Any]:
    """What to put in ``argument`` of ``endpoint``'s URL for ``visitor``."""
    staff = visitor.kind not in ("anonymous", "member")
    if argument == "filename" and endpoint.endswith("static"):
        return ["commonwatch.css"]
    if argument == "member_id":
        ids = [*world.residents, *world.doorstep]
        return ids if staff else ids[:1]
    if argument == "staff_id":
        ids = [*world.staff_accounts, *(v.id for v in world.staff_visitors())]
        return ids if visitor.kind == "force_admin" else ids[:1]
    if argument == "token":
        return tokens(world, endpoint, visitor)
    if argument == "message_id":
        ids = list(world.messages)
        return ids if staff else ids[:1]
    if argument == "reply_id":
        ids = list(world.replies)
        return ids if staff else ids[:1]
    if argument == "code":  # public verification codes, and one nobody was given
        return [*world.public_alerts, "ZZZZ-2345"] if not staff else ["ZZZZ-2345"]
    if argument == "area_code":
        return [WARD_A, "NOWHERE"]
    if argument == "case_id" and staff:
        # Every payload is on the first case (surgery_objects): one case's staff pages,
        # with their five forms each, prove the escaping; all twelve only take longer.
        return [next(iter(world.plugin_objects.values()))["case_id"]]
    if argument == "token_id":  # each resident's API token, named with their payload
        return list(world.api_tokens) if staff else list(world.api_tokens)[:1]
    if argument in ("survey_id", "question_id"):  # one survey carries every payload
        return [next(iter(world.plugin_objects.values()))[argument]]
    if world.plugin_objects and argument in next(iter(world.plugin_objects.values())):
        if visitor.kind == "member":
            return [world.plugin_objects[visitor.id][argument]]
        return [ids[argument] for ids in world.plugin_objects.values()]
    pytest.fail(f"{endpoint} takes <{argument}>, which tests/test_xss.py cannot fill: "
                "add it to values_for()")


def get_urls(world: World, visitor: Visitor) -> list[str]:
    """Every GET route of the app, with ids and tokens filled in (the same each time)."""
    if visitor.label not in world.urls:
        world.urls[visitor.label] = _get_urls(world, visitor)
    return world.urls[visitor.label]


def _get_urls(world: World, visitor: Visitor) -> list[str]:
    adapter = world.app.url_map.bind("localhost")
    urls = []
    for rule in sorted(world.app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        arguments = sorted(rule.arguments)
        choices = [values_for(world, rule.endpoint, a, visitor) for a in arguments]
        for combination in itertools.product(*choices):
            urls.append(adapter.build(rule.endpoint, dict(zip(arguments, combination,
                                                              strict=True))))
    return urls


@dataclass
class Seen:
    visitor: Visitor
    method: str
    url: str
    status: int
    mimetype: str
    body: str
    page: Page | None


def fetch(visitor: Visitor, method: str, url: str, **kwargs: Any) -> Seen:
    response = visitor.client.open(url, method=method, **kwargs)
    body = response.get_data(as_text=True)
    page = Page(body) if response.mimetype == "text/html" else None
    return Seen(visitor, method, url, response.status_code, response.mimetype, body, page)


def html_problems(seen: Seen) -> Iterator[str]:
    where = f"{seen.visitor.label}: {seen.method} {seen.url} ({seen.status})"
    if seen.status >= 500:
        yield f"{where}: server error"
    if seen.page is None:
        return
    for payload in unescaped(seen.body):
        yield f"{where}: shows {payload!r} unescaped"
    for problem in structural_problems(seen.page):
        yield f"{where}: {problem}"
    if "test-secret-key" in seen.body:
        yield f"{where}: shows the SECRET_KEY"


def walk(world: World, visitors: list[Visitor] | None = None) -> list[Seen]:
    """GET every route as each of ``visitors`` (default: all of them)."""
    return [fetch(visitor, "GET", url)
            for visitor in (world.visitors if visitors is None else visitors)
            for url in get_urls(world, visitor)]


def expected_sightings(world: World) -> list[tuple[Visitor, str, str, str]]:
    """(visitor, url, "text" or a field name, value): where each stored value is shown."""
    expected = []
    for visitor in world.visitors:
        if visitor.kind == "member":
            (name,) = visitor.own
            expected += [(visitor, "/account", "text", name),
                         (visitor, "/account/profile", "name", name),
                         (visitor, "/account/profile", "address_line", name)]
        elif visitor.kind != "anonymous":
            (name,) = visitor.own
            expected.append((visitor, "/staff/", "text", name))
            if visitor.kind in ("officer", "supervisor", "force_admin"):
                for member_id in [*world.residents, *world.doorstep]:
                    value = world.member_name(member_id)
                    expected += [(visitor, "/staff/members", "text", value),
                                 (visitor, f"/staff/members/{member_id}", "text", value)]
            if visitor.kind == "officer":  # the author of the drafts, and their team
                for reply_id, payload in world.replies.items():
                    expected += [(visitor, "/staff/replies/", "text", payload),
                                 (visitor, f"/staff/replies/{reply_id}", "text", payload)]
                for message_id, payload in world.messages.items():
                    expected += [(visitor, "/staff/messages/", "text", payload),
                                 (visitor, f"/staff/messages/{message_id}/check", "text",
                                  payload),
                                 (visitor, f"/staff/messages/{message_id}", "text", payload)]
            if visitor.kind == "force_admin":
                for staff_id, payload in world.staff_accounts.items():
                    expected += [(visitor, "/staff/accounts", "text", payload),
                                 (visitor, f"/staff/accounts/{staff_id}", "name", payload)]
        else:
            for code, payload in world.public_alerts.items():
                expected += [(visitor, f"/verify/{code}", "text", payload),
                             (visitor, f"/alerts/{WARD_A}", "text", payload)]
            for url in get_urls(world, visitor):
                if url.startswith("/confirm/"):
                    member_id = _doorstep_member(world, url)
                    expected.append((visitor, url, "text", world.doorstep[member_id]))
    return expected


def _doorstep_member(world: World, url: str) -> int:
    from core.emails import DOORSTEP_MAX_AGE
    from core.security import read_token

    with world.app.app_context():
        return read_token("doorstep", url.rsplit("/", 1)[1], DOORSTEP_MAX_AGE)["m"]


def test_no_page_shows_a_stored_payload_unescaped(world):
    seen = walk(world)
    problems = [p for s in seen for p in html_problems(s)]
    pages = {(s.visitor.label, s.url): s for s in seen}
    for visitor, url, where, value in expected_sightings(world):
        s = pages.get((visitor.label, url))
        if s is None or s.page is None or s.status != 200:
            problems.append(f"{visitor.label}: GET {url} was not an HTML page "
                            f"({s and s.status}), so it cannot show {value!r}")
        elif where == "text" and not s.page.shows(value):
            problems.append(f"{visitor.label}: GET {url} does not show {value!r} escaped")
        elif where != "text" and not s.page.has_value(where, value):
            problems.append(f"{visitor.label}: GET {url}: field {where} does not hold "
                            f"{value!r} escaped")
    assert not problems, "\n".join(problems)
    # Every kind of visitor saw every route.
    assert {s.visitor.kind for s in seen} == {"anonymous", "member", "officer", "supervisor",
                                              "force_admin"}
    assert len({s.url for s in seen if s.status == 200 and s.page}) > 20


# -- payloads sent back by forms that refuse them --------------------------------------------------


def form_data(form: Form, payload: str) -> dict[str, list[str]]:
    """What a person would submit: ``payload`` in every text field, the rest as shown."""
    data: dict[str, list[str]] = {}
    for f in form.fields:
        if f.is_text:
            data.setdefault(f.name, []).append(payload)
        elif f.tag == "input" and (f.type == "hidden" or f.checked and f.type in ("checkbox",
                                                                                   "radio")):
            data.setdefault(f.name, []).append(f.value)
        elif f.tag == "select" and f.options:
            chosen = [v for v, selected in f.options if selected] or [f.options[0][0]]
            data.setdefault(f.name, []).extend(chosen[:1])
    return data


def forms_with_text(seen: list[Seen]) -> list[tuple[Visitor, str, Form]]:
    """Each distinct form that has a text field, with the first visitor who saw it."""
    found: dict[tuple[str, str, tuple[str, ...]], tuple[Visitor, str, Form]] = {}
    for s in seen:
        if s.page is None or s.status != 200:
            continue
        for form in s.page.forms:
            names = tuple(sorted(f.name for f in form.fields if f.is_text))
            if not names:
                continue
            target = form.action or s.url
            found.setdefault((urlsplit(target).path, form.method, names),
                             (s.visitor, target, form))
    assert found, "no form with a text field was found"
    return list(found.values())


#: (path, field) pairs whose refusal must be seen coming back escaped, at the least.
MUST_COME_BACK = {
    ("/register", "email"), ("/register", "postcode"), ("/register", "phone"),
    ("/register", "name"), ("/register", "address_line"),
    ("/account/profile", "postcode"), ("/account/profile", "phone"),
    ("/account/profile", "name"), ("/account/profile", "address_line"),
    ("/staff/members/new", "email"), ("/staff/members/new", "postcode"),
    ("/staff/members/new", "name"),
    ("/staff/accounts/new", "email"), ("/staff/accounts/new", "area_codes"),
    ("/staff/accounts/new", "name"),
    ("/sign-in", "email"), ("/staff/sign-in", "email"), ("/staff/members", "q"),
}


def test_forms_send_refused_payloads_back_escaped(world):
    # Residents all see the same forms: one of them is enough to find them.
    first_resident = next(v for v in world.visitors if v.kind == "member")
    seen = walk(world, [v for v in world.visitors if v.kind != "member" or v is first_resident])
    problems: list[str] = []
    came_back: set[tuple[str, str]] = set()
    for visitor, target, form in forms_with_text(seen):
        text_fields = {f.name for f in form.fields if f.is_text}
        for payload in PAYLOADS:
            data = form_data(form, payload)
            if form.method == "get":
                url = urlsplit(target).path + "?" + urlencode(data, doseq=True)
                result = fetch(visitor, "GET", url)
            else:
                result = fetch(visitor, "POST", target, data=data)
            problems += html_problems(result)
            if result.page is not None:
                for name in text_fields:
                    if result.page.has_value(name, payload):
                        came_back.add((urlsplit(target).path, name))
    # Payloads in URLs come back escaped too.
    visitor = world.visitors[0]
    for payload in PAYLOADS:
        for url in ("/" + quote(payload, safe=""), "/sign-in?" + urlencode({"next": payload}),
                    "/staff/sign-in?" + urlencode({"next": payload, "lang": payload})):
            problems += html_problems(fetch(visitor, "GET", url))
    assert not problems, "\n".join(problems)
    missing = sorted(MUST_COME_BACK - came_back)
    assert not missing, f"never seen coming back in their fields: {missing}"


# -- downloads and emails ------------------------------------------------------------------------


def export(world: World) -> list[dict[str, str]]:
    supervisor = next(v for v in world.visitors if v.kind == "supervisor")
    response = supervisor.client.get("/staff/members/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_export_defuses_formulas_and_keeps_the_values(world):
    rows = {int(r["id"]): r for r in export(world)}
    formulas = [f"{row['id']}/{column}: {value!r}" for row in rows.values()
                for column, value in row.items() if value.startswith(FORMULA_STARTS)]
    assert not formulas, "cells a spreadsheet would run as formulas:\n" + "\n".join(formulas)
    for member_id in [*world.residents, *world.doorstep]:
        name = world.member_name(member_id)
        defused = "'" + name if name.startswith(FORMULA_STARTS) else name
        assert rows[member_id]["name"] == defused
        assert rows[member_id]["address_line"] == defused


def test_the_json_download_carries_the_values_exactly(world):
    for visitor in world.visitors:
        if visitor.kind != "member":
            continue
        response = visitor.client.get("/account/my-data.json")
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment")
        text = json.dumps(response.get_json(), ensure_ascii=False)
        (name,) = visitor.own
        assert json.dumps(name, ensure_ascii=False) in text


def test_emails_show_the_values_as_plain_text_only(world, outbox):
    # A verification email per registration, a confirmation link per doorstep
    # registration, a password link per staff account: each starts "Dear <name>,".
    expected = {}
    for i, payload in enumerate(PAYLOADS):
        expected[f"self{i}@example.org"] = payload  # sent before the profile changed it
        expected[f"door{i}@example.org"] = payload
        expected[f"new-staff{i}@police.example.org"] = payload
    messages = outbox.wait_for(len(expected))
    problems = []
    for address, payload in expected.items():
        sent = outbox.to(address)
        assert sent, f"no email to {address}"
        for message in sent:
            types = [part.get_content_type() for part in message.walk()]
            if types != ["text/plain"]:
                problems.append(f"{address}: parts {types}, not text/plain alone")
            body = message.get_body(("plain",)).get_content()
            if f"{payload}," not in body:
                problems.append(f"{address}: the name {payload!r} is not in the text as typed")
            if str(escape(payload)) != payload and str(escape(payload)) in body:
                problems.append(f"{address}: the name is HTML-escaped in a plain-text email")
    assert len(messages) >= len(expected)
    assert not problems, "\n".join(problems)


def test_the_html_alert_email_escapes_what_staff_typed(app):
    # Alerts go out with an HTML part: its subject and sender line (a staff name, which
    # the staff account form accepts as typed) must be escaped like any page.
    from types import SimpleNamespace

    from flask import render_template

    for payload in PAYLOADS:
        with app.test_request_context("/"):
            body = render_template("emails/alert.html", subject=payload, sender_line=payload,
                                   html="<p>Body</p>", message=SimpleNamespace(title_cy=None))
        page = Page(body)
        assert not unescaped(body), payload
        assert not structural_problems(page), payload
        assert page.shows(payload) and "<p>Body</p>" in body
