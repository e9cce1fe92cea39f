"""Neighbourhood Watch's pages: finding and joining schemes, starting and coordinating
them, group spaces and their documents, and the staff pages that verify schemes and
administer ward panels."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select

from core.api import (
    Area,
    Member,
    Message,
    Organisation,
    Staff,
    db,
    delivery_states,
    gettext,
    has_working_channel,
    log_denied,
    lookup_postcode,
    member_required,
    member_scope,
    postcode_points_geojson,
    public,
    staff_required,
    target_map_settings,
    within,
)
from plugins.neighbourhood_watch import groups as group_logic
from plugins.neighbourhood_watch import schemes as scheme_logic
from plugins.neighbourhood_watch.forms import (
    LEVEL_LABELS,
    ROLE_LABELS,
    VISIBILITY_LABELS,
    CoordinateForm,
    DecisionForm,
    DocumentForm,
    GroupForm,
    InviteEmailForm,
    InviteResidentForm,
    JoinForm,
    MailDocumentForm,
    MailingRolesForm,
    PostcodeSearchForm,
    RoleForm,
    SchemeMessageForm,
    StartSchemeForm,
)
from plugins.neighbourhood_watch.groups import DocumentRefused
from plugins.neighbourhood_watch.models import (
    GROUP_OFFICERS,
    LEVELS,
    Decision,
    Document,
    Group,
    GroupMember,
    Scheme,
    SchemeMember,
    SchemeMessage,
)
from plugins.neighbourhood_watch.schemes import SchemeError

bp = Blueprint("neighbourhood_watch", __name__, template_folder="templates")

#: Organisation kinds that may look after schemes and groups.
CARETAKER_KINDS = ("watch_association", "police")


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"nw_role_labels": ROLE_LABELS, "nw_level_labels": LEVEL_LABELS,
            "nw_visibility_labels": VISIBILITY_LABELS}


def _member() -> Member:
    return current_user._get_current_object()


def _visible_to(staff: Staff, people: set[int], decisions: list[Decision]) -> set[int]:
    """Which of ``people`` and of the residents named in ``decisions`` ``staff`` may see
    by name: those the core's scope lets them see (who consented to their
    organisation)."""
    people = people | {d.subject_id for d in decisions if d.subject_id} | {
        d.by_member_id for d in decisions if d.by_member_id}
    if not people:
        return set()
    return set(db.session.scalars(select(Member.id).where(Member.id.in_(people),
                                                          member_scope(staff))))


def _recent_decisions(about: Any) -> list[Decision]:
    """The last 50 decisions matching ``about`` (a scheme's or a group's), newest first."""
    return list(db.session.scalars(select(Decision).where(about).order_by(
        Decision.at.desc(), Decision.id.desc()).limit(50)))


def _not_found(reason: str) -> None:
    log_denied(reason)
    abort(404)


def _caretakers() -> list[tuple[int, str]]:
    return [(o.id, o.name) for o in db.session.scalars(
        select(Organisation).where(Organisation.kind.in_(CARETAKER_KINDS))
        .order_by(Organisation.name))]


def _nearby_areas(member: Member) -> list[Area]:
    """The member's street and the areas around it a scheme or group might cover: the
    member's ward (or parent) and the streets in it."""
    own = member.area
    parent = own.parent or own
    siblings = db.session.scalars(select(Area).where(Area.parent_id == parent.id)
                                  .order_by(Area.name)).all()
    return [parent, *siblings] if parent is not own else [own]


# == schemes: residents ======================================================================


def _scheme_card(scheme: Scheme) -> dict[str, Any]:
    return {"scheme": scheme, "coordinators": scheme_logic.coordinators(scheme),
            "members": db.session.scalar(select(func.count()).select_from(
                scheme_logic.members_of(scheme).subquery()))}


@bp.get("/schemes")
@public
def find_schemes() -> str:
    """Find the watch schemes covering a postcode, and ask to join one."""
    form = PostcodeSearchForm(request.args)
    return _finder(form, join_form=None, searched=request.args.get("postcode") is not None)


def _finder(form: PostcodeSearchForm, join_form: JoinForm | None,
            join_target: Scheme | None = None, searched: bool = True) -> str:
    """The finder page; after a failed request to join, ``join_target`` is shown first
    with the error by its consent box, wherever it is."""
    found: list[dict[str, Any]] | None = None
    if searched and form.validate():
        postcode = lookup_postcode(form.postcode.data)
        if postcode is None:
            form.postcode.errors = [gettext("We do not know that postcode. Check it and "
                                            "try again.")]
        else:
            found = [_scheme_card(s) for s in scheme_logic.schemes_covering(postcode)
                     if s is not join_target]
    if join_target is not None:
        found = [_scheme_card(join_target), *(found or [])]
    member = _member() if isinstance(current_user._get_current_object(), Member) else None
    places = {}
    if member is not None and found:
        places = {p.scheme_id: p for p in db.session.scalars(select(SchemeMember).where(
            SchemeMember.member_id == member.id,
            SchemeMember.scheme_id.in_([c["scheme"].id for c in found])))}
    return render_template("neighbourhood_watch/find.html", form=form, found=found,
                           member=member, places=places, failed_join=join_form,
                           join_target=join_target.id if join_target else None)


@bp.post("/schemes/join")
@member_required
def join_scheme() -> str | Response:
    """Ask to join a scheme (or accept an invitation to it)."""
    form = JoinForm()
    scheme = db.session.get(Scheme, form.target.data) if form.target.data else None
    if scheme is None or not scheme_logic.may(scheme, "listed"):
        _not_found("scheme not found")
    if form.validate():
        try:
            place = scheme_logic.ask_to_join(scheme, _member())
        except SchemeError as exc:
            form.consent.errors = [str(exc)]
        else:
            db.session.commit()
            flash(gettext("You have joined %(name)s.", name=scheme.name)
                  if place.status == "active"
                  else gettext("Your request to join %(name)s was sent to its coordinators.",
                               name=scheme.name))
            return redirect(url_for("neighbourhood_watch.my_schemes"))
    search = PostcodeSearchForm(formdata=None, data={"postcode": _member().postcode})
    return _finder(search, join_form=form, join_target=scheme)


@bp.get("/schemes/mine")
@member_required
def my_schemes() -> str:
    """The schemes the resident belongs to, coordinates, asked to join or is invited to."""
    member = _member()
    places = db.session.scalars(select(SchemeMember).where(
        SchemeMember.member_id == member.id,
        SchemeMember.status.in_(("active", "requested", "invited")))
        .join(Scheme, Scheme.id == SchemeMember.scheme_id).order_by(Scheme.name)).all()
    return render_template("neighbourhood_watch/mine.html", places=places,
                           join_form=JoinForm)


@bp.route("/schemes/new", methods=["GET", "POST"])
@member_required
def start_scheme() -> str | Response:
    """Apply to start a scheme: it starts self-declared, with the applicant as its main
    coordinator, until a volunteer association or the police verify it."""
    member = _member()
    form = StartSchemeForm()
    form.organisation.choices = _caretakers()
    nearby = _nearby_areas(member)
    form.areas.choices = [(a.id, a.name) for a in nearby]
    if form.validate_on_submit():
        areas = [a for a in nearby if a.id in set(form.areas.data)]
        organisation = db.session.get(Organisation, form.organisation.data)
        scheme = None
        try:
            shape = scheme_logic.parse_shape(form.shape.data)
        except SchemeError as exc:
            form.shape.errors = [str(exc)]
        else:
            try:
                scheme = scheme_logic.start_scheme(member, form.name.data,
                                                   form.description.data or "",
                                                   organisation, areas, shape)
            except SchemeError as exc:
                form.areas.errors = [str(exc)]
                db.session.rollback()
        if scheme is not None:
            db.session.commit()
            flash(gettext("%(name)s is started. It is self-declared until it is verified.",
                          name=scheme.name))
            return redirect(url_for("neighbourhood_watch.manage_scheme", scheme_id=scheme.id))
    settings = target_map_settings()
    settings["points_url"] = url_for("neighbourhood_watch.postcode_points")
    return render_template("neighbourhood_watch/start.html", form=form, target_map=settings)


@bp.get("/schemes/postcode-points.json")
@member_required
def postcode_points() -> Response:
    """The postcode points around the resident, for drawing a scheme's boundary."""
    area = _nearby_areas(_member())[0]
    return jsonify(postcode_points_geojson(SimpleNamespace(areas=[area])))


def _own_place(scheme_id: int) -> tuple[Scheme, SchemeMember]:
    """The scheme and the signed-in resident's place in it; 404 when they have none."""
    scheme = db.session.get(Scheme, scheme_id)
    place = scheme_logic.place_of(scheme, _member()) if scheme else None
    if scheme is None or place is None or place.status not in ("active", "invited",
                                                                 "requested"):
        _not_found("not in this scheme")
    return scheme, place


def _coordinated(scheme_id: int) -> Scheme:
    """The scheme if the signed-in resident coordinates it; 404 otherwise."""
    scheme = db.session.get(Scheme, scheme_id)
    if scheme is None or not scheme_logic.is_coordinator(scheme, _member()):
        _not_found("not a coordinator of this scheme")
    return scheme


@bp.get("/schemes/<int:scheme_id>")
@member_required
def scheme(scheme_id: int) -> str:
    """A scheme's page for its members."""
    scheme, place = _own_place(scheme_id)
    return render_template("neighbourhood_watch/scheme.html", scheme=scheme, place=place,
                           card=_scheme_card(scheme), coordinate_form=CoordinateForm(),
                           is_coordinator=scheme_logic.is_coordinator(scheme, _member()))


@bp.post("/schemes/<int:scheme_id>/coordinate")
@member_required
def apply_to_coordinate(scheme_id: int) -> str | Response:
    """A member applies to coordinate their scheme."""
    scheme, place = _own_place(scheme_id)
    form = CoordinateForm()
    if form.validate():
        try:
            scheme_logic.apply_to_coordinate(scheme, _member(), form.role.data)
        except SchemeError as exc:
            form.role.errors = [str(exc)]
        else:
            db.session.commit()
            flash(gettext("Your application was sent to the staff who verify schemes."))
            return redirect(url_for("neighbourhood_watch.scheme", scheme_id=scheme.id))
    return render_template("neighbourhood_watch/scheme.html", scheme=scheme, place=place,
                           card=_scheme_card(scheme), coordinate_form=form,
                           is_coordinator=scheme_logic.is_coordinator(scheme, _member()))


@bp.post("/schemes/<int:scheme_id>/leave")
@member_required
def leave_scheme(scheme_id: int) -> Response:
    """Leave a scheme, or withdraw a request or refuse an invitation."""
    scheme, place = _own_place(scheme_id)
    if not request.form.get("leave"):
        abort(400)
    if place.role == "main" and len(scheme_logic.coordinators(scheme)) == 1:
        flash(gettext("Ask the staff who verify schemes to appoint another main "
                      "coordinator before you leave."))
        return redirect(url_for("neighbourhood_watch.scheme", scheme_id=scheme.id))
    scheme_logic.record("leave", place.status, scheme=scheme, subject=place.member,
                        by_member=_member())
    db.session.delete(place)
    db.session.commit()
    flash(gettext("You are no longer part of %(name)s.", name=scheme.name))
    return redirect(url_for("neighbourhood_watch.my_schemes"))


# == schemes: coordinators ===================================================================


def _manage_page(scheme: Scheme, invite_error: str | None = None) -> str:
    requests = db.session.scalars(select(SchemeMember).where(
        SchemeMember.scheme_id == scheme.id, SchemeMember.status == "requested")
        .order_by(SchemeMember.requested_at)).all()
    members = db.session.scalars(select(SchemeMember).join(
        Member, Member.id == SchemeMember.member_id).where(
        SchemeMember.scheme_id == scheme.id, SchemeMember.status.in_(("active", "invited")))
        .order_by(Member.name)).all()
    candidates = (db.session.scalars(scheme_logic.not_yet_members(scheme).limit(200)).all()
                  if scheme_logic.may(scheme, "invite") else None)
    sent = [{"message": m, "states": delivery_states(m)} for m in db.session.scalars(
        select(Message).join(SchemeMessage, SchemeMessage.message_id == Message.id)
        .where(SchemeMessage.scheme_id == scheme.id)
        .order_by(Message.id.desc()).limit(20))]
    decisions = _recent_decisions(Decision.scheme_id == scheme.id)
    return render_template(
        "neighbourhood_watch/manage.html", scheme=scheme, requests=requests, members=members,
        candidates=candidates, sent=sent, decisions=decisions, decision_form=DecisionForm(),
        invite_form=InviteResidentForm, invite_error=invite_error,
        may={a: scheme_logic.may(scheme, a) for a in scheme_logic.ABILITIES},
        levels=scheme_logic.required_levels())


@bp.get("/schemes/<int:scheme_id>/manage")
@member_required
def manage_scheme(scheme_id: int) -> str:
    """The coordinators' page: requests to decide, members, residents to invite, and
    the scheme's messages with how far each has gone."""
    return _manage_page(_coordinated(scheme_id))


@bp.post("/schemes/<int:scheme_id>/requests/<int:request_id>")
@member_required
def decide_request(scheme_id: int, request_id: int) -> str | Response:
    """A coordinator accepts or declines a request to join."""
    scheme = _coordinated(scheme_id)
    place = db.session.get(SchemeMember, request_id)
    if place is None or place.scheme_id != scheme.id:
        _not_found("request not in this scheme")
    form = DecisionForm()
    if not form.validate():
        abort(400)
    try:
        scheme_logic.decide_request(scheme, place, bool(form.accept.data), _member())
    except SchemeError as exc:
        flash(str(exc))
    else:
        db.session.commit()
        flash(gettext("%(name)s is now a member.", name=place.member.name) if form.accept.data
              else gettext("The request from %(name)s was declined.", name=place.member.name))
    return redirect(url_for("neighbourhood_watch.manage_scheme", scheme_id=scheme.id))


@bp.post("/schemes/<int:scheme_id>/invitations")
@member_required
def invite_resident(scheme_id: int) -> str | Response:
    """A coordinator invites a resident in the boundary who is not a member yet."""
    scheme = _coordinated(scheme_id)
    form = InviteResidentForm()
    if form.validate():
        try:
            place = scheme_logic.invite(scheme, form.member.data, _member())
        except SchemeError as exc:
            return _manage_page(scheme, invite_error=str(exc))
        db.session.commit()
        flash(gettext("%(name)s is invited.", name=place.member.name))
    return redirect(url_for("neighbourhood_watch.manage_scheme", scheme_id=scheme.id))


@bp.route("/schemes/<int:scheme_id>/message", methods=["GET", "POST"])
@member_required
def message_scheme(scheme_id: int) -> str | Response:
    """A coordinator writes to the scheme's members; it goes out through the core's
    messaging. Only this scheme is ever the target, whatever the form carries."""
    scheme = _coordinated(scheme_id)
    form = SchemeMessageForm()
    allowed = scheme_logic.may(scheme, "message")
    if allowed and form.validate_on_submit():
        try:
            reached = scheme_logic.send_to_scheme(scheme, _member(), form.data)
        except SchemeError as exc:
            form.title.errors = [str(exc)]
        else:
            flash(gettext("Sent to %(num)d people.", num=reached))
            return redirect(url_for("neighbourhood_watch.manage_scheme", scheme_id=scheme.id))
    elif request.method == "POST" and not allowed:
        form.title.errors = [gettext("This scheme must be verified before it can send "
                                     "messages")]
    return render_template("neighbourhood_watch/message.html", scheme=scheme, form=form,
                           allowed=allowed, level=scheme_logic.required_levels()["message"])


@bp.get("/schemes/<int:scheme_id>/messages/<int:message_id>/print")
@member_required
def print_message(scheme_id: int, message_id: int) -> str:
    """A printable copy of a scheme message with the addresses of the members who
    cannot get it by email, to deliver by hand."""
    scheme = _coordinated(scheme_id)
    link = db.session.get(SchemeMessage, message_id)
    if link is None or link.scheme_id != scheme.id:
        _not_found("message not of this scheme")
    if not scheme_logic.may(scheme, "print"):
        abort(403)
    message = db.session.get(Message, message_id)
    without_email = db.session.scalars(scheme_logic.members_of(scheme).where(
        ~has_working_channel("email"))).all()
    return render_template("neighbourhood_watch/print.html", scheme=scheme, message=message,
                           addresses=without_email)


# == schemes: staff ==========================================================================


def _staff_scheme(scheme_id: int) -> Scheme:
    staff: Staff = g.staff
    scheme = db.session.scalar(scheme_logic.staff_schemes(staff).where(Scheme.id == scheme_id))
    if scheme is None:
        _not_found("scheme not in scope")
    return scheme


@bp.get("/staff/schemes")
@staff_required("neighbourhood_watch.schemes.administer")
def staff_schemes() -> str:
    """The schemes the signed-in staff look after, with applications waiting."""
    staff: Staff = g.staff
    schemes = db.session.scalars(scheme_logic.staff_schemes(staff)).all()
    waiting = dict(db.session.execute(
        select(SchemeMember.scheme_id, func.count()).where(
            SchemeMember.applied_role.is_not(None),
            SchemeMember.scheme_id.in_([s.id for s in schemes]))
        .group_by(SchemeMember.scheme_id)).all())
    return render_template("neighbourhood_watch/staff_schemes.html", schemes=schemes,
                           waiting=waiting, level=scheme_logic.staff_level(staff))


def _staff_scheme_page(scheme: Scheme, error: str | None = None) -> str:
    staff: Staff = g.staff
    applications = db.session.scalars(select(SchemeMember).where(
        SchemeMember.scheme_id == scheme.id, SchemeMember.applied_role.is_not(None))).all()
    visible = db.session.scalars(scheme_logic.members_of(scheme).where(
        member_scope(staff))).all()
    total = db.session.scalar(select(func.count()).select_from(
        scheme_logic.members_of(scheme).subquery()))
    decisions = _recent_decisions(Decision.scheme_id == scheme.id)
    level = scheme_logic.staff_level(staff)
    coordinators = scheme_logic.coordinators(scheme)
    named = _visible_to(staff, {p.member_id for p in applications}
                        | {p.member_id for p in coordinators}, decisions)
    can_verify = level is not None and LEVELS.index(level) > LEVELS.index(scheme.level)
    return render_template("neighbourhood_watch/staff_scheme.html", scheme=scheme,
                           applications=applications, visible=visible, total=total,
                           decisions=decisions, can_verify=can_verify, level=level,
                           decision_form=DecisionForm(), error=error, named=named,
                           coordinators=coordinators)


@bp.get("/staff/schemes/<int:scheme_id>")
@staff_required("neighbourhood_watch.schemes.administer")
def staff_scheme(scheme_id: int) -> str:
    """A scheme as its verifying staff see it: level, coordinators, applications, the
    members they may see, and the record of decisions."""
    return _staff_scheme_page(_staff_scheme(scheme_id))


@bp.post("/staff/schemes/<int:scheme_id>/verify")
@staff_required("neighbourhood_watch.schemes.administer")
def verify_scheme(scheme_id: int) -> str | Response:
    """Verify a scheme at the staff's level (association or police)."""
    scheme = _staff_scheme(scheme_id)
    form = DecisionForm()
    if not form.validate() or not form.accept.data:
        abort(400)
    try:
        scheme_logic.verify(scheme, g.staff)
    except SchemeError as exc:
        return _staff_scheme_page(scheme, error=str(exc))
    db.session.commit()
    flash(gettext("%(name)s is verified.", name=scheme.name))
    return redirect(url_for("neighbourhood_watch.staff_scheme", scheme_id=scheme.id))


@bp.post("/staff/schemes/<int:scheme_id>/coordinators/<int:request_id>")
@staff_required("neighbourhood_watch.schemes.administer")
def decide_coordinator(scheme_id: int, request_id: int) -> str | Response:
    """Accept or decline an application to coordinate a scheme."""
    scheme = _staff_scheme(scheme_id)
    place = db.session.get(SchemeMember, request_id)
    if place is None or place.scheme_id != scheme.id:
        _not_found("application not in this scheme")
    form = DecisionForm()
    if not form.validate():
        abort(400)
    try:
        scheme_logic.decide_coordinator(scheme, place, bool(form.accept.data), g.staff)
    except SchemeError as exc:
        return _staff_scheme_page(scheme, error=str(exc))
    db.session.commit()
    return redirect(url_for("neighbourhood_watch.staff_scheme", scheme_id=scheme.id))


# == groups: residents =======================================================================


@bp.get("/groups")
@public
def find_groups() -> str:
    """Public groups, searchable by name; hidden groups never appear."""
    query = (request.args.get("q") or "").strip()[:100]
    found = db.session.scalars(group_logic.public_groups(query).limit(100)).all()
    return render_template("neighbourhood_watch/groups.html", groups=found, query=query,
                           join_form=JoinForm, failed=None, failed_target=None)


@bp.post("/groups/join")
@member_required
def join_group() -> str | Response:
    """Ask to join a public group, or accept an invitation to any group."""
    form = JoinForm()
    group = db.session.get(Group, form.target.data) if form.target.data else None
    place = group_logic.place_of(group, _member()) if group else None
    if group is None or (group.visibility != "public"
                         and (place is None or place.status != "invited")):
        _not_found("group not found")
    if form.validate():
        try:
            place = group_logic.ask_to_join(group, _member())
        except SchemeError as exc:
            form.consent.errors = [str(exc)]
        else:
            db.session.commit()
            flash(gettext("You have joined %(name)s.", name=group.name)
                  if place.status == "active"
                  else gettext("Your request to join %(name)s was sent to its officers.",
                               name=group.name))
            return redirect(url_for("neighbourhood_watch.my_groups"))
    groups = [group] if group.visibility == "public" else []
    return render_template("neighbourhood_watch/groups.html", groups=groups, query="",
                           join_form=JoinForm, failed=form, failed_target=group.id,
                           invited=group if group.visibility != "public" else None)


@bp.get("/groups/mine")
@member_required
def my_groups() -> str:
    """The groups the resident belongs to, asked to join or is invited to."""
    rows = db.session.execute(group_logic.groups_of(_member())).all()
    return render_template("neighbourhood_watch/my_groups.html", rows=rows,
                           join_form=JoinForm)


@bp.route("/groups/new", methods=["GET", "POST"])
@member_required
def start_group() -> str | Response:
    """Start a community group, as its chair."""
    member = _member()
    form = GroupForm()
    form.organisation.choices = _caretakers()
    nearby = _nearby_areas(member)
    form.area.choices = [(a.id, a.name) for a in nearby]
    if form.validate_on_submit():
        area = next(a for a in nearby if a.id == form.area.data)
        group = group_logic.start_group(member, form.name.data, form.description.data or "",
                                        form.visibility.data, form.organisation.data, area)
        db.session.commit()
        return redirect(url_for("neighbourhood_watch.group", group_id=group.id))
    return render_template("neighbourhood_watch/group_form.html", form=form, staff=False)


def _group_place(group_id: int, statuses: tuple[str, ...] = ("active",)
                 ) -> tuple[Group, GroupMember]:
    """The group and the signed-in resident's place in it; 404 unless it is in
    ``statuses``."""
    group = db.session.get(Group, group_id)
    place = group_logic.place_of(group, _member()) if group else None
    if group is None or place is None or place.status not in statuses:
        _not_found("not in this group")
    return group, place


def _officer_group(group_id: int) -> tuple[Group, GroupMember]:
    group, place = _group_place(group_id)
    if place.role not in GROUP_OFFICERS:
        abort(403)
    return group, place


@bp.get("/groups/<int:group_id>")
@member_required
def group(group_id: int) -> str:
    """A group's private space: its members and roles, and its documents."""
    group, place = _group_place(group_id, ("active", "invited"))
    people = db.session.execute(group_logic.members_of(group)).all() \
        if place.status == "active" else []
    return render_template("neighbourhood_watch/group.html", group=group, place=place,
                           people=people, officer=place.role in GROUP_OFFICERS
                           and place.status == "active", join_form=JoinForm)


def _group_manage_page(group: Group, invite_form: InviteEmailForm | None = None,
                       staff: Staff | None = None) -> str:
    if staff is not None:
        people = db.session.execute(group_logic.membership_for_staff(group, staff)).all()
    else:
        people = db.session.execute(group_logic.members_of(
            group, ("active", "invited", "requested"))).all()
    roles_form = MailingRolesForm(data={"roles": group_logic.mailing_roles(group)})
    decisions = _recent_decisions(Decision.group_id == group.id)
    return render_template(
        "neighbourhood_watch/group_manage.html", group=group, people=people,
        decision_form=DecisionForm(), role_form=RoleForm, roles_form=roles_form,
        invite_form=invite_form or InviteEmailForm(), staff=staff, decisions=decisions,
        named=_visible_to(staff, set(), decisions) if staff is not None else None,
        may_administer=staff is None or group_logic.staff_may_administer(group, staff))


@bp.get("/groups/<int:group_id>/manage")
@member_required
def manage_group(group_id: int) -> str:
    """The group's officers' page: requests, invitations, roles and the mailing list."""
    group, _place = _officer_group(group_id)
    return _group_manage_page(group)


def _decide_group(group: Group, membership_id: int, by: dict[str, Any]) -> None:
    place = db.session.get(GroupMember, membership_id)
    if place is None or place.group_id != group.id:
        _not_found("membership not in this group")
    form = DecisionForm()
    if not form.validate():
        abort(400)
    try:
        group_logic.decide(group, place, bool(form.accept.data), **by)
    except SchemeError as exc:
        flash(str(exc))
    else:
        db.session.commit()


def _set_group_role(group: Group, membership_id: int, by: dict[str, Any]) -> None:
    place = db.session.get(GroupMember, membership_id)
    if place is None or place.group_id != group.id:
        _not_found("membership not in this group")
    form = RoleForm()
    if not form.validate():
        abort(400)
    if (form.role.data != "chair" and place.role == "chair"
            and db.session.scalar(select(func.count()).where(
                GroupMember.group_id == group.id, GroupMember.role == "chair",
                GroupMember.status == "active")) == 1):
        flash(gettext("Give the chair to someone else first."))
        return
    try:
        group_logic.set_role(group, place, form.role.data, **by)
    except SchemeError as exc:
        flash(str(exc))
    else:
        db.session.commit()


@bp.post("/groups/<int:group_id>/requests/<int:membership_id>")
@member_required
def decide_group_request(group_id: int, membership_id: int) -> Response:
    """An officer accepts or declines a request to join the group."""
    group, _place = _officer_group(group_id)
    _decide_group(group, membership_id, {"by_member": _member()})
    return redirect(url_for("neighbourhood_watch.manage_group", group_id=group.id))


@bp.post("/groups/<int:group_id>/people/<int:membership_id>")
@member_required
def set_group_role(group_id: int, membership_id: int) -> Response:
    """An officer changes a member's role, or removes them."""
    group, _place = _officer_group(group_id)
    _set_group_role(group, membership_id, {"by_member": _member()})
    return redirect(url_for("neighbourhood_watch.manage_group", group_id=group.id))


@bp.post("/groups/<int:group_id>/invite")
@member_required
def invite_to_group(group_id: int) -> str | Response:
    """An officer invites a registered resident by email address."""
    group, _place = _officer_group(group_id)
    form = InviteEmailForm()
    if form.validate():
        try:
            group_logic.invite_by_email(group, form.email.data, by_member=_member())
        except SchemeError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            flash(gettext("If someone is registered with that address, they are invited and "
                          "will see it under their groups."))
            return redirect(url_for("neighbourhood_watch.manage_group", group_id=group.id))
    return _group_manage_page(group, invite_form=form)


@bp.post("/groups/<int:group_id>/mailing-roles")
@member_required
def set_mailing_roles(group_id: int) -> Response:
    """The chair decides who may send documents to the group's mailing list."""
    group, place = _officer_group(group_id)
    if place.role != "chair":
        abort(403)
    form = MailingRolesForm()
    if form.validate():
        group.mailing_roles = ",".join(form.roles.data or [])
        group_logic.record("mailing", group.mailing_roles or "none", group_id=group.id,
                           by_member=_member())
        db.session.commit()
    return redirect(url_for("neighbourhood_watch.manage_group", group_id=group.id))


# == documents ===============================================================================


@bp.get("/groups/<int:group_id>/documents")
@member_required
def documents(group_id: int) -> str:
    """The group's documents, for its members only."""
    group, place = _group_place(group_id)
    found = db.session.scalars(group_logic.documents_of(group)).all()
    return render_template("neighbourhood_watch/documents.html", group=group, place=place,
                           documents=found, officer=place.role in GROUP_OFFICERS,
                           may_mail=group_logic.may_mail(group, _member()))


@bp.before_request
def _allow_document_uploads() -> None:
    # Uploads may be larger than other requests: the limit is the document limit plus
    # room for the form, so that an oversized file gets the form's message, not a 413.
    if request.endpoint == "neighbourhood_watch.upload_document":
        request.max_content_length = group_logic.max_bytes() + 64 * 1024


@bp.route("/groups/<int:group_id>/documents/new", methods=["GET", "POST"])
@member_required
def upload_document(group_id: int) -> str | Response:
    """A group officer uploads a document: its type is checked from its content."""
    group, _place = _officer_group(group_id)
    form = DocumentForm()
    if form.validate_on_submit():
        upload = form.document.data
        try:
            checked = group_logic.check_upload(upload.filename or "", upload.stream)
        except DocumentRefused as exc:
            form.document.errors = [str(exc)]
        else:
            document = group_logic.store(group, form.title.data or "", checked, _member())
            db.session.commit()
            flash(gettext("%(title)s is uploaded.", title=document.title))
            return redirect(url_for("neighbourhood_watch.documents", group_id=group.id))
    return render_template("neighbourhood_watch/upload.html", group=group, form=form,
                           limit_mb=group_logic.max_bytes() // (1024 * 1024))


def _group_document(group_id: int, document_id: int) -> tuple[Group, GroupMember, Document]:
    group, place = _group_place(group_id)
    document = db.session.get(Document, document_id)
    if document is None or document.group_id != group.id:
        _not_found("document not in this group")
    return group, place, document


@bp.get("/groups/<int:group_id>/documents/<int:document_id>")
@member_required
def download_document(group_id: int, document_id: int) -> Response:
    """The document itself, to the group's members only; each opening is recorded."""
    _group, _place, document = _group_document(group_id, document_id)
    path = group_logic.path_of(document)
    if not path.is_file():
        abort(410)
    group_logic.log_access(document, _member())
    db.session.commit()
    response = send_file(path, mimetype=document.content_type, as_attachment=True,
                         download_name=document.filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/groups/<int:group_id>/documents/<int:document_id>/accesses")
@member_required
def document_accesses(group_id: int, document_id: int) -> str:
    """Who opened a document, and when, for the group's officers."""
    group, place, document = _group_document(group_id, document_id)
    if place.role not in GROUP_OFFICERS:
        abort(403)
    rows = db.session.scalars(group_logic.accesses(document).limit(500)).all()
    return render_template("neighbourhood_watch/accesses.html", group=group,
                           document=document, rows=rows)


@bp.route("/groups/<int:group_id>/documents/<int:document_id>/send",
          methods=["GET", "POST"])
@member_required
def mail_document(group_id: int, document_id: int) -> str | Response:
    """Send a document to the group's mailing list, for those the group authorises."""
    group, place, document = _group_document(group_id, document_id)
    if not group_logic.may_mail(group, _member()):
        abort(403)
    form = MailDocumentForm()
    if form.validate_on_submit() and form.submit.data:
        link = url_for("neighbourhood_watch.download_document", group_id=group.id,
                       document_id=document.id, _external=True)
        reached = group_logic.mail_document(group, document, _member(),
                                            str(ROLE_LABELS[place.role]), link,
                                            form.note.data or "")
        flash(gettext("Sent to %(num)d people.", num=reached))
        return redirect(url_for("neighbourhood_watch.documents", group_id=group.id))
    return render_template("neighbourhood_watch/mail.html", group=group, document=document,
                           form=form)


# == groups: staff ===========================================================================


def _staff_group(group_id: int) -> Group:
    staff: Staff = g.staff
    group = db.session.scalar(group_logic.staff_groups(staff).where(Group.id == group_id))
    if group is None:
        _not_found("group not in scope")
    return group


@bp.get("/staff/groups")
@staff_required("neighbourhood_watch.groups.administer")
def staff_groups() -> str:
    """The groups serving the signed-in staff's areas."""
    found = db.session.scalars(group_logic.staff_groups(g.staff)).all()
    return render_template("neighbourhood_watch/staff_groups.html", groups=found)


@bp.route("/staff/groups/new", methods=["GET", "POST"])
@staff_required("neighbourhood_watch.groups.administer")
def start_ward_panel() -> str | Response:
    """Start a ward panel for an area in the staff's scope."""
    staff: Staff = g.staff
    form = GroupForm()
    del form.organisation
    areas = db.session.scalars(select(Area).where(within(staff.areas, Area.id))
                               .order_by(Area.level, Area.name).limit(500)).all()
    form.area.choices = [(a.id, a.name) for a in areas]
    form.submit.label.text = gettext("Create the ward panel")
    if form.validate_on_submit():
        area = next(a for a in areas if a.id == form.area.data)
        group = group_logic.start_ward_panel(staff, form.name.data, form.description.data or "",
                                             form.visibility.data, area)
        db.session.commit()
        return redirect(url_for("neighbourhood_watch.staff_group", group_id=group.id))
    return render_template("neighbourhood_watch/group_form.html", form=form, staff=True)


@bp.get("/staff/groups/<int:group_id>")
@staff_required("neighbourhood_watch.groups.administer")
def staff_group(group_id: int) -> str:
    """A group's membership as staff may see it; never its documents."""
    return _group_manage_page(_staff_group(group_id), staff=g.staff)


def _administered(group_id: int) -> Group:
    group = _staff_group(group_id)
    if not group_logic.staff_may_administer(group, g.staff):
        abort(403)
    return group


@bp.post("/staff/groups/<int:group_id>/requests/<int:membership_id>")
@staff_required("neighbourhood_watch.groups.administer")
def staff_decide_group_request(group_id: int, membership_id: int) -> Response:
    """Police accept or decline a request to join a ward panel."""
    group = _administered(group_id)
    _decide_group(group, membership_id, {"by_staff": g.staff})
    return redirect(url_for("neighbourhood_watch.staff_group", group_id=group.id))


@bp.post("/staff/groups/<int:group_id>/people/<int:membership_id>")
@staff_required("neighbourhood_watch.groups.administer")
def staff_set_group_role(group_id: int, membership_id: int) -> Response:
    """Police give a ward panel member a role, or remove them."""
    group = _administered(group_id)
    _set_group_role(group, membership_id, {"by_staff": g.staff})
    return redirect(url_for("neighbourhood_watch.staff_group", group_id=group.id))


@bp.post("/staff/groups/<int:group_id>/invite")
@staff_required("neighbourhood_watch.groups.administer")
def staff_invite_to_group(group_id: int) -> str | Response:
    """Police invite a registered resident to a ward panel."""
    group = _administered(group_id)
    form = InviteEmailForm()
    if form.validate():
        try:
            group_logic.invite_by_email(group, form.email.data, by_staff=g.staff)
        except SchemeError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            flash(gettext("If someone is registered with that address, they are invited and "
                          "will see it under their groups."))
            return redirect(url_for("neighbourhood_watch.staff_group", group_id=group.id))
    return _group_manage_page(group, invite_form=form, staff=g.staff)

