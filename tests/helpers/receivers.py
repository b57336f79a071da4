"""Real receivers the notification tests start on loopback: an HTTP server that verifies
webhook signatures as a receiver should, and an SMTP server (aiosmtpd), plain, STARTTLS or SSL
with a self-signed certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.notify.signing import BadSignature, verify
from tests.helpers.browser import free_port


@dataclass
class Received:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class WebhookReceiver:
    """What the receiver got; ``fail_next`` answers 500 that many times first; ``clock_offset``
    moves its clock (seconds) to test replays."""

    url: str
    secret: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0
    clock_offset: float = 0.0

    def accepted(self) -> list[Received]:
        """The requests it accepted (2xx)."""
        return [r for r in self.requests if r.answered == 200]


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """An HTTP server on 127.0.0.1 that checks ``Gapdesk-Signature`` with ``receiver.secret``
    (400 if wrong or older than five minutes) and records every request."""
    port = free_port()
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{port}/hooks/gapdesk")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    status, text = 500, "receiver down for maintenance"
                else:
                    try:
                        verify(
                            receiver.secret, self.headers.get("Gapdesk-Signature", ""), body,
                            now=time.time() + receiver.clock_offset,
                        )  # fmt: skip
                        status, text = 200, "ok, ticket created"
                    except BadSignature as exc:
                        status, text = 400, f"rejected: {exc}"
                receiver.requests.append(
                    Received(self.path, dict(self.headers.items()), body, status)
                )
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost (cert.pem, key.pem): its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class MailServer:
    """What the SMTP server received; ``logins`` are the (user, password) pairs it accepted."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def to(self, address: str) -> list[Message]:
        """The messages addressed to ``address``."""
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server(
    tls: str = "none", certificate: tuple[Path, Path] | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[MailServer]:  # fmt: skip
    """aiosmtpd on 127.0.0.1: plain, ``starttls`` (required) or ``ssl``; with ``login``, only
    that user and password may send."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    port = free_port()
    server = MailServer("127.0.0.1", port)

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.messages.append(message_from_bytes(envelope.content))
            return "250 Message accepted for delivery"

    def authenticator(
        _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or login is None:
            return AuthResult(success=False, handled=False)
        pair = (data.login.decode(), data.password.decode())
        if pair == login:
            server.logins.append(pair)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    context = None
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port}
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if tls == "ssl":
        kwargs.update(ssl_context=context, server_hostname="127.0.0.1")
    if login is not None:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an SSL connection is TLS throughout.
        kwargs.update(authenticator=authenticator, auth_require_tls=tls == "starttls")
    else:
        kwargs.update(auth_require_tls=False)
    controller = Controller(Handler(), **kwargs)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
