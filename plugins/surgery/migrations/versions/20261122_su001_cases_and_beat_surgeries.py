"""surgery cases and beat surgeries

Revision ID: su001
Revises:
Create Date: 2026-11-22 09:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "su001"
down_revision = None
branch_labels = ("surgery",)
depends_on = "0014"


def _fk(table, column, target, ondelete=None):
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{ref_table}"))


def _indexes(table, columns):
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade():
    op.create_table(
        "surgery_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("team_area_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=True),
        sa.Column("reply_channel", sa.String(length=16), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("contact_address", sa.Text(), nullable=True),
        sa.Column("collect_at", sa.String(length=200), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation", sa.String(length=16), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        _fk("surgery_case", "organisation_id", "organisation.id"),
        _fk("surgery_case", "team_area_id", "area.id"),
        _fk("surgery_case", "area_id", "area.id"),
        _fk("surgery_case", "member_id", "member.id", "CASCADE"),
        _fk("surgery_case", "submitted_by_id", "staff.id", "SET NULL"),
        _fk("surgery_case", "assigned_to_id", "staff.id", "SET NULL"),
        _fk("surgery_case", "merged_into_id", "surgery_case.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surgery_case")),
    )
    _indexes("surgery_case", ["organisation_id", "team_area_id", "area_id", "member_id",
                              "topic", "submitted_by_id", "status", "assigned_to_id",
                              "submitted_at", "due_at"])
    op.create_table(
        "surgery_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        _fk("surgery_entry", "case_id", "surgery_case.id", "CASCADE"),
        _fk("surgery_entry", "staff_id", "staff.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surgery_entry")),
    )
    _indexes("surgery_entry", ["case_id"])
    op.create_table(
        "surgery_beat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("surgery_beat", "organisation_id", "organisation.id"),
        _fk("surgery_beat", "area_id", "area.id"),
        _fk("surgery_beat", "officer_id", "staff.id", "SET NULL"),
        _fk("surgery_beat", "case_id", "surgery_case.id"),
        _fk("surgery_beat", "message_id", "message.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surgery_beat")),
    )
    _indexes("surgery_beat", ["organisation_id", "area_id", "case_id"])
    op.create_table(
        "surgery_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beat_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        _fk("surgery_participant", "beat_id", "surgery_beat.id", "CASCADE"),
        _fk("surgery_participant", "member_id", "member.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surgery_participant")),
        sa.UniqueConstraint("beat_id", "member_id",
                            name=op.f("uq_surgery_participant_beat_id")),
    )
    _indexes("surgery_participant", ["beat_id", "member_id"])
    op.create_table(
        "surgery_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beat_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        _fk("surgery_post", "beat_id", "surgery_beat.id", "CASCADE"),
        _fk("surgery_post", "participant_id", "surgery_participant.id", "CASCADE"),
        _fk("surgery_post", "staff_id", "staff.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surgery_post")),
    )
    _indexes("surgery_post", ["beat_id", "participant_id", "state"])


def downgrade():
    for table in ("surgery_post", "surgery_participant", "surgery_beat", "surgery_entry",
                  "surgery_case"):
        op.drop_table(table)
