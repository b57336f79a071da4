"""A browser tab without the browser: Streamlit's own websocket protocol, spoken from Python.

What a Streamlit page does over ``/_stcore/stream`` (read from the installed streamlit: its
starlette websocket handler, app_session and the frontend's connection manager):

- before connecting, the page asks ``/_stcore/health`` and ``/_stcore/host-config``; the
  websocket carries the page's cookies (the app's HttpOnly session cookie among them), an
  ``Origin`` header, and the subprotocols ``streamlit, <XSRF token or PLACEHOLDER_AUTH_TOKEN>``;
- every run is asked for by a ``BackMsg`` whose ``rerun_script`` is a ``ClientState``: the page
  (``page_script_hash``, or ``page_name`` for the address's path on the first run), the states of
  the widgets on screen (a button's press is a ``trigger_value``), the ``fragment_id`` when the
  widget pressed lives in a fragment (only that fragment reruns), the hashes of the cacheable
  messages the tab holds, and the browser's context (time zone, locale, address);
- the server answers with ``ForwardMsg``s: ``new_session`` at the start of each run, ``delta``s
  that place elements at a ``delta_path`` (each widget's proto carries its id; a delta carries
  the fragment it belongs to), ``ref_hash`` for a cacheable message the tab said it holds, and
  ``script_finished``. At the end of a full run the elements that run did not send are gone; at
  the end of a fragment run, the stale ones of that fragment.

A shortcut key (``st.button(shortcut=...)``) is handled in the page: it presses the button, so
the server receives exactly the message a click sends. ``Tab.press`` sends that message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

FULL_RUN_DONE = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY
FRAGMENT_RUN_DONE = ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
RERUN_FOLLOWS = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
XSRF_COOKIE = "_streamlit_xsrf"
_TICKET = re.compile(r'ticket\\*"\s*:\s*\\*"([A-Za-z0-9_\-]+)')


class ProtocolError(Exception):
    """The server said or did something a page would show as broken."""


@dataclass
class Element:
    """One element on the tab's screen, as the last delta at its place drew it."""

    path: tuple[int, ...]
    kind: str  # the Element oneof: "button", "markdown", "alert", "text_input", ...
    proto: Any  # the element's own message (Button, Markdown, Alert, ...)
    fragment_id: str
    run_id: str
    seq: int  # the tab's message counter when it arrived

    @property
    def text(self) -> str:
        """What the element says (a label or a body)."""
        return str(getattr(self.proto, "body", "") or getattr(self.proto, "label", "") or "")

    @property
    def widget_id(self) -> str:
        """The widget's id (empty for an element that is no widget)."""
        return str(getattr(self.proto, "id", "") or "")


class Tab:
    """One browser tab's session with a Streamlit server, over its websocket."""

    def __init__(self, base: str, *, timeout: float = 60.0) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.http = httpx.AsyncClient(base_url=self.base, timeout=timeout)
        self.elements: dict[tuple[int, ...], Element] = {}
        self.values: dict[str, WidgetState] = {}  # widget states the tab keeps sending
        self.pages: dict[str, str] = {}  # page title -> page_script_hash (from navigation)
        self.page_hash = ""
        self.session_id = ""
        self.run_id = ""
        self.run_fragments: tuple[str, ...] = ()
        self.running = False
        self.finished_seq = 0  # seq of the last script_finished
        self.seq = 0
        self.exceptions: list[str] = []
        self.toasts: list[tuple[int, str]] = []
        self.received_bytes = 0
        self._cache: dict[str, ForwardMsg] = {}
        self._changed = asyncio.Condition()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.closed_because = ""

    # -- connecting --------------------------------------------------------------------------

    async def open(self, path: str = "") -> None:
        """Load the page at ``path`` as a browser does: pings, websocket, the first run."""
        for route in ("/_stcore/health", "/_stcore/host-config"):
            (await self.http.get(route)).raise_for_status()
        xsrf = self.http.cookies.get(XSRF_COOKIE)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        self._ws = await connect(
            self.base.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=["streamlit", xsrf or "PLACEHOLDER_AUTH_TOKEN"],  # type: ignore[list-item]
            origin=self.base,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookies} if cookies else None,
            max_size=None,
            open_timeout=self.timeout,
        )
        self._reader = asyncio.create_task(self._read())
        await self.until_idle(await self.rerun(page_name=path))

    async def close(self) -> None:
        """Close the websocket (the server ends the session) and the HTTP client."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # closing anyway
                await self._reader
        await self.http.aclose()

    # -- sending -----------------------------------------------------------------------------

    async def rerun(
        self,
        *,
        trigger: Element | None = None,
        fragment_id: str = "",
        page_hash: str | None = None,
        page_name: str = "",
    ) -> int:
        """Ask for a run, as the page does after a widget changes (``trigger``: a button or
        form submitter pressed); returns the tab's message counter at sending."""
        assert self._ws is not None
        if page_hash is not None:
            self.page_hash = page_hash
        live = {e.widget_id for e in self.elements.values() if e.widget_id}
        self.values = {k: v for k, v in self.values.items() if k in live}
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = "" if page_name else self.page_hash
        state.page_name = page_name
        widgets = state.widget_states
        widgets.SetInParent()
        for value in self.values.values():
            widgets.widgets.add().CopyFrom(value)
        if trigger is not None:
            pressed = widgets.widgets.add()
            pressed.id = trigger.widget_id
            pressed.trigger_value = True
            fragment_id = fragment_id or trigger.fragment_id
        state.fragment_id = fragment_id
        state.cached_message_hashes.extend(self._cache)
        context = state.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-GB"
        context.url, context.is_embedded, context.color_scheme = self.base + "/", False, "light"
        seq = self.seq
        await self._ws.send(msg.SerializeToString())
        return seq

    def set_text(self, element: Element, value: str) -> None:
        """Type into a text input (sent with the next run, as the page does)."""
        state = WidgetState(id=element.widget_id, string_value=value)
        self.values[element.widget_id] = state

    async def press(self, element: Element) -> tuple[int, float]:
        """Press a button (its click or its shortcut key): returns the counter and the clock at
        sending."""
        began = time.perf_counter()
        return await self.rerun(trigger=element), began

    async def go_to(self, title: str) -> int:
        """Open a page of the navigation (a click on its link in the sidebar)."""
        if title not in self.pages:
            raise ProtocolError(f"no page {title!r} in the navigation: {sorted(self.pages)}")
        return await self.rerun(page_hash=self.pages[title])

    async def redeem_cookie_ticket(self, since: int) -> bool:
        """Run what the page's ``st.html`` script does after a sign-in: POST its one-time ticket
        to the app's cookie route, keeping the cookie that comes back."""
        for e in self.find("html", since=since):
            found = _TICKET.search(e.text)
            if found is None:
                continue
            route = re.search(r"location\.origin \+ \"([^\"]+)\"", e.text)
            response = await self.http.post(
                route.group(1) if route else "/", json={"ticket": found.group(1)}
            )
            if response.status_code != 204:
                raise ProtocolError(f"the session-cookie route answered {response.status_code}")
            return True
        return False

    # -- what is on screen ---------------------------------------------------------------------

    def find(
        self, kind: str, text: str | Callable[[str], bool] | None = None, *, since: int = -1
    ) -> list[Element]:
        """The elements of ``kind`` on screen (in screen order) whose text is ``text`` (or passes
        it), drawn after message ``since``."""
        found = []
        for path in sorted(self.elements):
            e = self.elements[path]
            if e.kind != kind or e.seq <= since:
                continue
            if text is None or (text(e.text) if callable(text) else e.text == text):
                found.append(e)
        return found

    def button(self, label: str | Callable[[str], bool]) -> Element:
        """The enabled button with ``label`` on screen (the first, in screen order)."""
        for e in self.find("button", label):
            if not e.proto.disabled:
                return e
        raise ProtocolError(f"no enabled button {label!r} on screen")

    async def until(self, test: Callable[[], Any], timeout: float | None = None) -> Any:
        """Wait until ``test()`` gives something true (checked after each message); returns it.
        Raises ProtocolError on an exception box, a closed socket or the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        async with self._changed:
            while True:
                found = test()
                if found:
                    return found
                if self.closed_because:
                    raise ProtocolError(f"the websocket closed: {self.closed_because}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProtocolError("timed out waiting for the page")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    continue

    async def until_idle(self, since: int) -> None:
        """Wait until the run asked for after message ``since`` has finished."""
        await self.until(lambda: not self.running and self.finished_seq > since)

    # -- receiving -----------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for data in self._ws:
                assert isinstance(data, bytes)
                self.received_bytes += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                async with self._changed:
                    self.seq += 1
                    self._apply(msg)
                    self._changed.notify_all()
        except Exception as exc:  # the socket dropped: every waiter learns it
            self.closed_because = f"{type(exc).__name__}: {exc}"
        else:
            self.closed_because = "closed by the server"
        async with self._changed:
            self._changed.notify_all()

    def _apply(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # a cacheable message the tab said it holds
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                raise ProtocolError(f"the server referred to an unknown message {msg.ref_hash}")
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = msg
        if kind == "new_session":
            new = msg.new_session
            self.run_id = msg.metadata.run.script_run_id
            self.run_fragments = tuple(msg.metadata.run.fragment_ids)
            self.page_hash = new.page_script_hash or self.page_hash
            if new.initialize.session_id:
                self.session_id = new.initialize.session_id
            self.running = True
        elif kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "session_status_changed":
            self.running = msg.session_status_changed.script_is_running
        elif kind == "delta":
            self._place(msg)
        elif kind == "script_finished":
            if msg.script_finished == RERUN_FOLLOWS:  # st.rerun(): the next run is on its way
                return
            self._prune(msg.script_finished)
            self.finished_seq = self.seq
            self.running = False
        elif kind == "page_not_found":
            self.exceptions.append(f"page not found: {msg.page_not_found.page_name}")

    def _place(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        path = tuple(msg.metadata.delta_path)
        which = delta.WhichOneof("type")
        if which == "new_element":
            element = delta.new_element
            kind = element.WhichOneof("type") or ""
            proto = getattr(element, kind) if kind else None
            if kind == "exception":
                self.exceptions.append(f"{proto.type}: {proto.message}"[:600])
            self.elements[path] = Element(
                path, kind, proto, delta.fragment_id, self.run_id, self.seq
            )
        elif which == "add_block":
            self.elements[path] = Element(
                path, "block", delta.add_block, delta.fragment_id, self.run_id, self.seq
            )
        elif which == "new_transient":  # a toast: kept as said, not on the page
            for e in delta.new_transient.elements:
                if e.WhichOneof("type") == "toast":
                    self.toasts.append((self.seq, e.toast.body))

    def _prune(self, status: int) -> None:
        if status == FULL_RUN_DONE:
            self.elements = {p: e for p, e in self.elements.items() if e.run_id == self.run_id}
        elif status == FRAGMENT_RUN_DONE:
            ran = set(self.run_fragments)
            self.elements = {
                p: e for p, e in self.elements.items()
                if e.run_id == self.run_id or e.fragment_id not in ran
            }  # fmt: skip


def describe(tab: Tab) -> str:
    """The headings and messages on the tab's screen, to explain a failed step."""
    said = [e.text[:120] for e in tab.find("alert")] + [e.text[:80] for e in tab.find("heading")]
    return json.dumps({"running": tab.running, "on screen": said[:6]})
