"""E-mail: each outbox event a person is told of, as a plain-text message, sent over SMTP.

``GAPDESK_SMTP_TLS`` is ``starttls`` (upgrade a plain connection, usually port 587), ``ssl``
(TLS from the first byte, usually 465) or ``none`` (a relay on the same host or network only).
The server's certificate is checked against the system's CAs and ``GAPDESK_SMTP_CA_FILE``.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Any

from app.core.settings import Settings
from review_queue.outbox import EventKind
from review_queue.tables import OutboxEvent, User

SMTP_TIMEOUT_S = 20.0


class MailFailed(Exception):
    """The message could not be composed or the server refused it; ``code`` is its reply."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _one_line(text: Any, limit: int = 150) -> str:
    return " ".join(str(text or "").split())[:limit]


def _finding_lines(data: dict[str, Any]) -> list[str]:
    f = data.get("finding", {})
    where = ", ".join(x for x in (f.get("course_id"), f.get("department")) if x)
    return [
        f"Finding #{f.get('id')}: {_one_line(f.get('title'), 300)}",
        f"Category {f.get('category')}, severity {f.get('severity')}, now {f.get('status')}"
        + (f", in {where}" if where else ""),
    ]


def _content(event: OutboxEvent, user: User, base: str) -> tuple[str, list[str]]:
    data = event.payload
    f = data.get("finding", {})
    if event.kind == EventKind.finding_assigned:
        lines = [
            f"Hello {user.name},",
            "",
            f"{data.get('actor')} assigned a finding to you in Gapdesk.",
            "",
            *_finding_lines(data),
        ]
        if data.get("comment"):
            lines += ["", f"Their comment: {data['comment']}"]
        lines += ["", f"Open the Review queue: {base}/queue"]
        return f"Gapdesk: finding #{f.get('id')} is assigned to you", lines
    if event.kind == EventKind.learner_report_status:
        words = data.get("status_words") or f.get("status")
        lines = [
            f"Hello {user.name},",
            "",
            f"Your learner report has a new status: {words}.",
            "",
            f"Report #{f.get('id')}: {_one_line(f.get('title'), 300)}",
            f"Changed by {data.get('actor')} ({data.get('action')}).",
        ]
        if data.get("comment"):
            lines += ["", f"Their comment: {data['comment']}"]
        lines += ["", f"See your reports: {base}/report"]
        return f"Gapdesk: your report #{f.get('id')}: {words}", lines
    if event.kind == EventKind.weekly_digest:
        lines = [f"Hello {user.name},", "", f"The week in Gapdesk ({data.get('period')}):", ""]
        for item in data.get("takeaways", []):
            lines.append(f"- {item.get('title')}: {item.get('takeaway')}")
        lines += ["", f"The Trends page: {base}/trends"]
        return f"Gapdesk weekly digest: {data.get('period')}", lines
    raise MailFailed(f"no e-mail is written for a {event.kind} event")


def compose_mail(event: OutboxEvent, user: User, settings: Settings) -> EmailMessage:
    """The message telling ``user`` of ``event`` (links point at GAPDESK_BASE_URL)."""
    subject, lines = _content(event, user, settings.base_url)
    lines += [
        "",
        "--",
        "You can turn these e-mails off on the Notifications page: "
        f"{settings.base_url}/notifications",
    ]
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = user.email
    message["Subject"] = _one_line(subject, 200)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="gapdesk")
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps every line under SMTP's 998-character limit, whatever the text.
    message.set_content("\n".join(lines), cte="quoted-printable")
    return message


def _context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


def send_mail(message: EmailMessage, settings: Settings) -> tuple[int, str]:
    """Send one message; returns the server's reply to the data (code, text) or raises
    MailFailed with the server's words."""
    host, port, tls = settings.smtp_host, settings.smtp_port, settings.smtp_tls
    try:
        smtp: smtplib.SMTP
        if tls == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_S, context=_context(settings))
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S)
        with smtp:
            smtp.ehlo()
            if tls == "starttls":
                smtp.starttls(context=_context(settings))
                smtp.ehlo()
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_user, password)
            code, reply = smtp.mail(settings.smtp_from)
            if code != 250:
                raise MailFailed(f"the SMTP server refused the sender: {code} {reply!r}", code)
            code, reply = smtp.rcpt(str(message["To"]))
            if code not in (250, 251):
                raise MailFailed(f"the SMTP server refused the recipient: {code} {reply!r}", code)
            # CRLF line ends, as SMTP wants (smtplib leaves bytes as they are).
            code, reply = smtp.data(message.as_bytes(policy=SMTP_POLICY))
            if code != 250:
                raise MailFailed(f"the SMTP server refused the message: {code} {reply!r}", code)
            return code, reply.decode("utf-8", "replace")
    except smtplib.SMTPResponseException as exc:
        raise MailFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", exc.smtp_code) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from None
