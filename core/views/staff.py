"""Staff pages: members in scope, doorstep registration and staff accounts.

Every member query here goes through :mod:`core.scoping`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, or_, select
from werkzeug.wrappers import Response as BaseResponse

from core import sessions
from core.access import fresh_login_required, has_permission, role_rank, staff_required
from core.areas import lookup_postcode, within
from core.emails import send_doorstep_confirmation, send_password_reset
from core.extensions import db
from core.forms import (
    CHANNEL_LABELS,
    ROLE_LABELS,
    DoorstepExtras,
    MemberSearchForm,
    StaffAccountForm,
    resident_form,
)
from core.jobs import enqueue
from core.members import create_member, email_taken
from core.models import ROLES, Area, Member, Staff
from core.registry import current_registry
from core.scoping import (
    get_scoped_member,
    get_scoped_staff,
    log_access,
    member_scope,
    scoped_members,
    scoped_staff,
)
from core.security import hash_password, new_totp_secret
from core.views.auth import change_password_page

bp = Blueprint("staff", __name__, url_prefix="/staff")

PAGE_SIZE = 50


@bp.get("/")
@staff_required()
def index() -> str:
    staff: Staff = g.staff
    can_view = has_permission(staff, "core.members.view")
    count = (
        db.session.scalar(select(func.count(Member.id)).where(member_scope(staff)))
        if can_view
        else None
    )
    return render_template("staff/index.html", staff=staff, member_count=count,
                           role_labels=ROLE_LABELS)


def _search(query: str) -> ColumnElement[bool]:
    like = f"%{query.strip().lower()}%"
    return or_(
        func.lower(Member.name).like(like),
        Member.email.like(like),
        func.replace(Member.postcode, " ", "").like(like.replace(" ", "").upper()),
    )


@bp.get("/members")
@staff_required("core.members.view")
def members() -> str:
    staff: Staff = g.staff
    form = MemberSearchForm(request.args)
    query = scoped_members(staff)
    if form.validate() and form.q.data:
        query = query.where(_search(form.q.data))
    page = db.paginate(query.order_by(Member.name, Member.id), per_page=PAGE_SIZE,
                       max_per_page=PAGE_SIZE, error_out=False)
    return render_template("staff/members.html", form=form, page=page,
                           can_export=has_permission(staff, "core.members.export"))


@bp.get("/members/<int:member_id>")
@staff_required("core.members.view")
def member(member_id: int) -> str:
    staff: Staff = g.staff
    resident = get_scoped_member(staff, member_id)
    log_access(staff, "view", member_ids=[resident.id])
    db.session.commit()
    watch_types = current_registry().watch_types
    return render_template(
        "staff/member.html",
        member=resident,
        interest_labels=[
            str(watch_types[i.watch_type].label)
            for i in resident.interests
            if i.watch_type in watch_types
        ],
        channel_names=[str(CHANNEL_LABELS[c.channel]) for c in resident.channels],
    )


def spreadsheet_safe(value: object) -> object:
    """A cell value that spreadsheet software will not run as a formula (OWASP CSV
    injection): text starting with = + - @ or a control character gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


EXPORT_COLUMNS = ["id", "name", "email", "phone", "address_line", "postcode", "area_code",
                  "area", "interests", "channels", "email_verified", "opted_out"]


@bp.get("/members/export.csv")
@staff_required("core.members.export")
def export_members() -> Response:
    staff: Staff = g.staff
    query = scoped_members(staff)
    log_access(staff, "export", query=query)
    db.session.commit()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        stream = db.session.scalars(
            query.order_by(Member.id).execution_options(yield_per=1000)
        )
        for m in stream:
            writer.writerow([spreadsheet_safe(v) for v in (
                m.id, m.name, m.email, m.phone or "", m.address_line, m.postcode,
                m.area.code, m.area.name,
                " ".join(sorted(i.watch_type for i in m.interests)),
                " ".join(c.channel for c in m.channels),
                "yes" if m.email_verified_at else "no",
                "yes" if m.opted_out_at else "no",
            )])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue()

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="members.csv"'},
    )


@bp.route("/members/new", methods=["GET", "POST"])
@staff_required("core.members.register")
def register_member() -> str | BaseResponse:
    staff: Staff = g.staff
    form = resident_form(DoorstepExtras, current_registry())
    if form.validate_on_submit():
        postcode = lookup_postcode(form.postcode.data)
        in_scope = postcode is not None and db.session.scalar(
            select(Area.id).where(Area.id == postcode.area_id, within(staff.areas, Area.id))
        )
        if not in_scope:
            form.postcode.errors.append(_("This postcode is outside the areas you work in"))
        elif email_taken(form.email.data):
            form.email.errors.append(_("A resident is already registered with this email"))
        else:
            resident = create_member(form.to_data(), method="doorstep", registered_by=staff)
            db.session.commit()
            enqueue(send_doorstep_confirmation, resident.id)
            flash(_("%(name)s is registered. We have emailed them a link to confirm.",
                    name=resident.name), "success")
            return redirect(url_for("staff.register_member"))
    return render_template("staff/register_member.html", form=form)



@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def change_password() -> str | BaseResponse:
    return change_password_page(url_for("staff.index"))


# -- staff accounts -------------------------------------------------------------------------


def _allowed_roles(manager: Staff) -> list[str]:
    return [r for r in ROLES if role_rank(r) >= role_rank(manager.role)]


def _account_form(manager: Staff, account: Staff | None) -> StaffAccountForm:
    prefill = account is not None and request.method == "GET"
    form = StaffAccountForm(obj=account) if prefill else StaffAccountForm()
    form.role.choices = [(r, ROLE_LABELS[r]) for r in _allowed_roles(manager)]
    if account and request.method == "GET":
        form.area_codes.data = "\n".join(a.code for a in account.areas)
    return form


def _check_areas(manager: Staff, form: StaffAccountForm) -> list[Area] | None:
    codes = [c.strip() for c in form.area_codes.data.replace(",", "\n").splitlines() if c.strip()]
    areas = list(db.session.scalars(select(Area).where(Area.code.in_(codes))))
    unknown = sorted(set(codes) - {a.code for a in areas})
    if unknown:
        form.area_codes.errors.append(_("Unknown area codes: %(codes)s", codes=", ".join(unknown)))
        return None
    allowed = set(
        db.session.scalars(
            select(Area.id).where(Area.id.in_([a.id for a in areas]),
                                  within(manager.areas, Area.id))
        )
    )
    outside = [a.code for a in areas if a.id not in allowed]
    if outside:
        form.area_codes.errors.append(
            _("You cannot give access to areas outside your own: %(codes)s",
              codes=", ".join(outside))
        )
        return None
    return areas


@bp.get("/accounts")
@staff_required("core.staff.manage")
def accounts() -> str:
    staff: Staff = g.staff
    people = db.session.scalars(scoped_staff(staff).order_by(Staff.name)).all()
    return render_template("staff/accounts.html", people=people, role_labels=ROLE_LABELS)


@bp.route("/accounts/new", methods=["GET", "POST"])
@staff_required("core.staff.manage")
@fresh_login_required
def new_account() -> str | BaseResponse:
    manager: Staff = g.staff
    form = _account_form(manager, None)
    if form.validate_on_submit():
        areas = _check_areas(manager, form)
        email = form.email.data.lower()
        if db.session.scalar(select(Staff.id).where(Staff.email == email)):
            form.email.errors.append(_("A staff account already uses this email address"))
        elif areas is not None:
            account = Staff(
                name=form.name.data, email=email, role=form.role.data, areas=areas,
                organisation_id=manager.organisation_id, active=form.active.data,
                # Unusable until the person sets one through the emailed reset link.
                password_hash=hash_password(new_totp_secret()),
            )
            db.session.add(account)
            db.session.commit()
            enqueue(send_password_reset, "s", account.id)
            flash(_("Account created. We have emailed %(email)s a link to choose a password.",
                    email=email), "success")
            return redirect(url_for("staff.accounts"))
    return render_template("staff/account_form.html", form=form, account=None)


@bp.route("/accounts/<int:staff_id>", methods=["GET", "POST"])
@staff_required("core.staff.manage")
@fresh_login_required
def edit_account(staff_id: int) -> str | BaseResponse:
    manager: Staff = g.staff
    account = get_scoped_staff(manager, staff_id)
    if role_rank(account.role) < role_rank(manager.role):
        abort(404)
    form = _account_form(manager, account)
    if form.validate_on_submit():
        areas = _check_areas(manager, form)
        email = form.email.data.lower()
        clash = db.session.scalar(
            select(Staff.id).where(Staff.email == email, Staff.id != account.id)
        )
        if clash:
            form.email.errors.append(_("A staff account already uses this email address"))
        elif areas is not None:
            demoted_self = account.id == manager.id and form.role.data != account.role
            if demoted_self:
                form.role.errors.append(_("You cannot change your own role"))
            else:
                account.name, account.email, account.role = form.name.data, email, form.role.data
                account.areas = areas
                if account.active and not form.active.data:
                    account.auth_version += 1  # ends the person's sessions now
                    sessions.end_all(account)
                account.active = form.active.data
                db.session.commit()
                flash(_("Account saved"), "success")
                return redirect(url_for("staff.accounts"))
    return render_template("staff/account_form.html", form=form, account=account)
