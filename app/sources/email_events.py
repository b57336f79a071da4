"""E-mail provider delivery events → ``notifications``, one per message and recipient.

Reads SendGrid's event webhook payloads (a JSON array or JSON lines), Amazon SES notifications
and event publishing records (bare, or inside an SNS envelope) and Mailgun events (records, or
events API pages ``{"items": [...]}``). Every event is brought to (message, recipient, what
happened, when), then each message-recipient pair becomes one notification:

* ``notification_id`` ``<provider>:<message id>:<address>``; ``user_id`` the recipient's address
  (matched to the LMS user with that e-mail address when ingested together; see
  :mod:`app.sources.links`); ``channel`` ``email``; ``kind`` ``other`` (a provider cannot say
  why the LMS wrote).
* ``sent_at`` the send/processed/accepted event, else the earliest event of the message (noted);
  ``delivered_at`` the delivery; ``opened_at`` the first open; ``bounced`` a permanent bounce,
  a drop or a rejection (a temporary failure or a deferral is not a bounce: it is retried).

Clicks, complaints, unsubscribes and list events carry no delivery fact and are left out.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from app.core.errors import UserError
from app.sources.files import GZIP_MAGIC
from app.sources.result import ImportReport, ImportResult

# What each provider's event says, in four words: sent, delivered, opened, bounced.
SENDGRID = {"processed": "sent", "delivered": "delivered", "open": "opened", "bounce": "bounced",
            "dropped": "bounced"}  # fmt: skip
SES = {"send": "sent", "delivery": "delivered", "open": "opened", "bounce": "bounced",
       "reject": "bounced"}  # fmt: skip
MAILGUN = {"accepted": "sent", "delivered": "delivered", "opened": "opened", "failed": "bounced",
           "rejected": "bounced"}  # fmt: skip
LEFT_OUT = "events with no delivery fact (clicks, complaints, unsubscribes, deferrals, lists)"

Event = tuple[str, str, str, Any]  # (message id, address, what, when)


def _records(path: Path) -> Iterator[Any]:
    with path.open("rb") as fh:
        magic = fh.read(2)
    opener: Any = gzip.open if magic == GZIP_MAGIC else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise UserError(f"{path.name} is not UTF-8 text") from None
    decoder, pos = json.JSONDecoder(), 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            return
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path.name} is not JSON throughout: {exc}") from None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("items"), list):
                yield from item["items"]  # a Mailgun events API page
            elif isinstance(item, dict) and item.get("Type") == "Notification":
                try:
                    yield json.loads(item.get("Message") or "")  # SES inside an SNS envelope
                except json.JSONDecodeError:
                    yield item
            else:
                yield item


def _sendgrid(record: dict[str, Any]) -> list[Event]:
    what = SENDGRID.get(str(record.get("event")))
    if what == "bounced" and record.get("event") == "bounce" and record.get("type") == "blocked":
        what = None  # blocked is a temporary refusal; SendGrid retries
    message = str(record.get("sg_message_id") or record.get("smtp-id") or "").split(".filter")[0]
    return [(message, str(record.get("email") or ""), what or "", record.get("timestamp"))]


def _ses(record: dict[str, Any]) -> list[Event]:
    kind = str(record.get("eventType") or record.get("notificationType") or "").lower()
    mail = record.get("mail") or {}
    message = str(mail.get("messageId") or "")
    found = record.get(kind)
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    what = SES.get(kind, "")
    if kind == "bounce" and detail.get("bounceType") != "Permanent":
        what = ""
    if kind == "bounce":
        targets = [r.get("emailAddress") for r in detail.get("bouncedRecipients") or []]
    elif kind == "delivery":
        targets = list(detail.get("recipients") or [])
    else:
        targets = list(mail.get("destination") or [])
    when = detail.get("timestamp") or mail.get("timestamp")
    return [(message, str(t or ""), what, when) for t in targets] or [(message, "", what, when)]


def _mailgun(record: dict[str, Any]) -> list[Event]:
    kind = str(record.get("event") or "")
    what = MAILGUN.get(kind, "")
    if kind == "failed" and record.get("severity") != "permanent":
        what = ""
    headers = (record.get("message") or {}).get("headers") or {}
    message = str(headers.get("message-id") or record.get("id") or "")
    return [(message, str(record.get("recipient") or ""), what, record.get("timestamp"))]


READERS = {"sendgrid": _sendgrid, "ses": _ses, "mailgun": _mailgun}


def _when(value: Any) -> pd.Timestamp:
    if isinstance(value, int | float):
        return pd.Timestamp(value, unit="s", tz="UTC")
    stamp = pd.to_datetime(value, format="ISO8601", utc=True, errors="coerce")
    return pd.Timestamp(stamp) if not pd.isna(stamp) else pd.NaT


def import_email_events(paths: list[Path], *, provider: str, source: str) -> ImportResult:
    """``notifications`` from e-mail provider event files of ``provider`` (see module doc)."""
    read = READERS[provider]
    report = ImportReport(source=source)
    events: list[Event] = []
    total = 0
    out: Counter[str] = Counter()
    for path in paths:
        for record in _records(path):
            total += 1
            if not isinstance(record, dict):
                out["dropped: records that are not JSON objects"] += 1
                continue
            for event in read(record):
                if not event[2]:
                    out[f"left out: {LEFT_OUT}"] += 1
                elif not event[0] or "@" not in event[1]:
                    out["dropped: events naming no message or no recipient address"] += 1
                elif pd.isna(_when(event[3])):
                    out["dropped: events without a readable time"] += 1
                else:
                    events.append(event)
    frame = pd.DataFrame(events, columns=["message", "address", "what", "when"])
    frame["address"] = frame["address"].str.strip().str.lower()
    frame["when"] = frame["when"].map(_when).astype("datetime64[us, UTC]")
    firsts = frame.groupby(["message", "address", "what"])["when"].min().unstack("what")
    for what in ("sent", "delivered", "opened", "bounced"):
        if what not in firsts:
            firsts[what] = pd.Series(pd.NaT, index=firsts.index, dtype="datetime64[us, UTC]")
    firsts = firsts.reset_index()
    unsent = firsts["sent"].isna()
    earliest = firsts[["delivered", "opened", "bounced"]].min(axis=1)
    notifications = pd.DataFrame(
        {
            "notification_id": provider + ":" + firsts["message"] + ":" + firsts["address"],
            "user_id": firsts["address"],
            "kind": "other",
            "channel": "email",
            "sent_at": firsts["sent"].fillna(earliest).astype("datetime64[us, UTC]"),
            "delivered_at": firsts["delivered"].astype("datetime64[us, UTC]"),
            "bounced": firsts["bounced"].notna(),
            "opened_at": firsts["opened"].astype("datetime64[us, UTC]"),
            "recipient": firsts["address"],
            "provider": provider,
        }
    )
    report.counts["rows read"] = total
    report.counts["notifications"] = len(notifications)
    report.counts.update(out)
    if unsent.any():
        report.notes.append(
            f"{int(unsent.sum())} message(s) have no send event here; their first event's time "
            "is taken as sent_at"
        )
    report.notes.append("kind is 'other': a provider's events do not say why the LMS wrote")
    return ImportResult(tables={"notifications": notifications}, report=report)
