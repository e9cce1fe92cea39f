"""The surveys' tables.

A *survey* is a questionnaire an organisation's staff build: sections of *questions*,
every text also in Welsh. Each time residents are asked is a *round* (a quarterly survey
has one a quarter, all with the same questions, so rounds compare). A round's
invitations go out in daily *batches*, each one message through the messaging pipeline
to a share of the round's target; each *invitation* records who was asked in which
batch. A *response* is one person's answers to one round (one per member per round;
answering again updates it), each *answer* one value of one question.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.api import Area, UTCDateTime, db, utcnow

#: The kinds of question, in the order the builder offers them.
KINDS = ("single", "multiple", "rating", "text", "rank")
#: A rating question's scale runs from 1 to this.
RATING_MAX = 5
#: A ranking question asks for this many choices, most important first.
RANK_COUNT = 3


class Survey(db.Model):
    """A questionnaire of one organisation, with its invitation settings."""

    __tablename__ = "surveys_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    title_cy: Mapped[str | None] = mapped_column(String(200))
    introduction: Mapped[str] = mapped_column(Text, default="")
    introduction_cy: Mapped[str | None] = mapped_column(Text)
    #: Anyone with the public link may answer too (``public_key`` makes the link).
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    #: Invitations of a round are spread over this many days.
    invite_days: Mapped[int] = mapped_column(Integer, default=7)
    #: A round takes answers for this many days after it starts.
    round_days: Mapped[int] = mapped_column(Integer, default=28)
    #: A new round every this many months (None: only when staff start one).
    repeat_months: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sections: Mapped[list[Section]] = relationship(
        back_populates="survey", order_by="Section.position", cascade="all, delete-orphan")
    questions: Mapped[list[Question]] = relationship(
        back_populates="survey", order_by="Question.position", cascade="all, delete-orphan")
    rounds: Mapped[list[Round]] = relationship(
        back_populates="survey", order_by="Round.number", cascade="all, delete-orphan")


class Section(db.Model):
    """A titled group of questions."""

    __tablename__ = "surveys_section"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys_survey.id", ondelete="CASCADE"),
                                           index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    title_cy: Mapped[str | None] = mapped_column(String(200))

    survey: Mapped[Survey] = relationship(back_populates="sections")


class Question(db.Model):
    """One question: its kind, words (English and Welsh) and choices."""

    __tablename__ = "surveys_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys_survey.id", ondelete="CASCADE"),
                                           index=True)
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("surveys_section.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: One of KINDS.
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(500))
    text_cy: Mapped[str | None] = mapped_column(String(500))
    #: The choices of single, multiple and rank questions (for rating, the words for
    #: the lowest and highest marks); an answer's value is a choice's index.
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    options_cy: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Answering with choice ``interest_option`` gives the member this interest (a watch
    #: type), if they agree that their answers update their profile.
    interest: Mapped[str | None] = mapped_column(String(100))
    interest_option: Mapped[int | None] = mapped_column(Integer)
    #: The answer (the choice's words, or the text) is kept in this profile field, if
    #: they agree.
    profile_field: Mapped[str | None] = mapped_column(String(100))

    survey: Mapped[Survey] = relationship(back_populates="questions")
    section: Mapped[Section | None] = relationship()

    def choices(self, language: str = "en") -> list[str]:
        """The choices in ``language`` (English where no Welsh was given)."""
        if language == "cy" and self.options_cy and len(self.options_cy) == len(self.options):
            return list(self.options_cy)
        return list(self.options)

    def words(self, language: str = "en") -> str:
        """The question in ``language`` (English where no Welsh was given)."""
        return (self.text_cy if language == "cy" and self.text_cy else self.text)


class Round(db.Model):
    """One asking of a survey: when it takes answers, and whom its invitations aim at."""

    __tablename__ = "surveys_round"
    __table_args__ = (UniqueConstraint("survey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys_survey.id", ondelete="CASCADE"),
                                           index=True)
    #: 1 for the first round, then 2, 3...
    number: Mapped[int] = mapped_column(Integer)
    #: The staff account its invitations go out from.
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    #: The message target (core.messaging.Target as JSON) the invitations aim at.
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    invite_days: Mapped[int] = mapped_column(Integer, default=7)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set when the round was started by the repeat schedule rather than by staff.
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)

    survey: Mapped[Survey] = relationship(back_populates="rounds")
    batches: Mapped[list[Batch]] = relationship(
        back_populates="round", order_by="Batch.day", cascade="all, delete-orphan")


class Batch(db.Model):
    """One day's invitations of a round: a message to the members invited that day."""

    __tablename__ = "surveys_batch"
    __table_args__ = (UniqueConstraint("round_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("surveys_round.id", ondelete="CASCADE"),
                                          index=True)
    #: 0 for the first day's batch, then 1, 2...
    day: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[Round] = relationship(back_populates="batches")


class Invitation(db.Model):
    """A member asked to answer a round, in one of its batches."""

    __tablename__ = "surveys_invitation"
    __table_args__ = (UniqueConstraint("round_id", "member_id"),
                      Index("ix_surveys_invitation_batch_member", "batch_id", "member_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("surveys_round.id", ondelete="CASCADE"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("surveys_batch.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                           index=True)
    #: The member's area when invited (response rates per area count on it).
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)


class Response(db.Model):
    """One person's answers to one round: a member's (one per round), or someone's who
    answered by the public link."""

    __tablename__ = "surveys_response"
    __table_args__ = (UniqueConstraint("round_id", "member_id"),
                      Index("ix_surveys_response_round_state_area", "round_id", "state",
                            "area_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("surveys_round.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                                  index=True)
    #: "draft" (saved to finish later) or "submitted".
    state: Mapped[str] = mapped_column(String(16), default="draft")
    #: Where the respondent lives (the member's area, or the public postcode's), and
    #: their demographic answers when they answered; results are broken down by these.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    age_band: Mapped[str | None] = mapped_column(String(16))
    ethnic_group: Mapped[str | None] = mapped_column(String(16))
    #: They agreed that their answers to the questions tied to the profile update it.
    profile_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    area: Mapped[Area | None] = relationship()
    answers: Mapped[list[Answer]] = relationship(cascade="all, delete-orphan",
                                                 order_by="Answer.id")


class Answer(db.Model):
    """One value of one question in a response: a choice (with its rank, for ranking
    questions), a mark on the rating scale, or words."""

    __tablename__ = "surveys_answer"
    __table_args__ = (Index("ix_surveys_answer_question_value", "question_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("surveys_response.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("surveys_question.id", ondelete="CASCADE"))
    #: A choice's index, or the mark (1 to RATING_MAX); None for words.
    value: Mapped[int | None] = mapped_column(Integer)
    #: 1 for the most important of a ranking question's choices, then 2, 3.
    rank: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)


MODELS = [Survey, Section, Question, Round, Batch, Invitation, Response, Answer]
