"""Personal links: a message that invites its recipients to a plugin's page (a survey,
say) carries, for each recipient, a signed link that opens that page as them without
signing in.

A plugin names the page through the ``commonwatch_message_link`` hook; the message's
texts say where the link goes with the stand-in ``{personal_url}``; the delivery
pipeline fills in each recipient's own link (email, text message and push alike) and so
does the resident's copy of the message on the site. The page reads the token it is
given with :func:`read_personal_link`.
"""

from __future__ import annotations

from flask import current_app

from core.emails import LinkSigner, external_url
from core.models import Message
from core.replies import MessageLink, read_message_link
from core.security import make_token

PERSONAL_PURPOSE = "personal"
#: Where a message's texts take each recipient's personal link.
PERSONAL_STAND_IN = "{personal_url}"
#: The stand-in as Markdown leaves it in a link's address.
_ENCODED_STAND_IN = "%7Bpersonal_url%7D"


def message_link_endpoint(message: Message) -> str | None:
    """The endpoint of the page ``message`` invites its recipients to, or None when no
    enabled plugin claims it."""
    plugins = current_app.extensions["commonwatch"].plugins
    endpoint = plugins.call("commonwatch_message_link", message=message)
    return str(endpoint) if endpoint else None


def personal_url(message: Message, member_id: int) -> str | None:
    """``member_id``'s own link to the page ``message`` invites them to, or None."""
    endpoint = message_link_endpoint(message)
    if endpoint is None:
        return None
    return external_url(endpoint, token=make_token(PERSONAL_PURPOSE, [message.id, member_id]))


def personal_links(message: Message) -> LinkSigner | None:
    """Signs the personal links of a batch of recipients of ``message`` (``.url([message
    id, member id])`` gives what :func:`personal_url` gives); None when it has none."""
    endpoint = message_link_endpoint(message)
    return LinkSigner(PERSONAL_PURPOSE, endpoint) if endpoint else None


def fill_personal_link(text: str | None, url: str | None) -> str:
    """``text`` with its personal-link stand-ins replaced by ``url`` (left as they are
    when ``url`` is None)."""
    if not text or url is None:
        return text or ""
    return text.replace(PERSONAL_STAND_IN, url).replace(_ENCODED_STAND_IN, url)


def read_personal_link(token: str, max_age_seconds: int) -> MessageLink:
    """The message and member a personal link's ``token`` names, if it is genuine,
    younger than ``max_age_seconds`` and both still exist; otherwise ``problem`` says
    why not ("forged", "expired" or "gone")."""
    return read_message_link(PERSONAL_PURPOSE, token, max_age_seconds)
