"""The dashboard App: renders the core's snapshots and turns keys into the core's verbs.

Data flows one way. One worker consumes ``manager.subscribe()`` and posts each event's immutable
snapshot as a :class:`SessionChanged` message; its handler assigns the App's reactives in one
``batch_update`` and the panels receive them by data binding. Verbs run in workers (one group each,
``exit_on_error=False``) that end by posting :class:`ActionFinished`. The only timer ticks the clock
once a second for countdowns and uptime. :func:`build_app` is the one factory, for the CLI and the tests
(:func:`build_app_for` hands it what a runtime holds). The App drives any SessionPort (watui/core/ports.py):
the owner's session, a remote owner's (watui/tui/attached.py), a test's fake; the optional keys follow the
session's declared ``capabilities``. With MESSAGES, the Traffic panel shows the session's ``traffic()``
figures, read again on each ``message``, ``ack`` and ``state`` event (one reading at a time: events during a
slow one make one more), and ``m`` opens the recent messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from watui.config import Config
from watui.core.errors import WatuiError, first_line
from watui.core.events import Event
from watui.core.journal.journal import history_path
from watui.core.journal.report import read_report
from watui.core.models import PROBLEM_LOCKED, CleanupReport, ClearReport, ConnectionState, InitResult, SessionInfo
from watui.core.ports import BACKUP, MESSAGES, EventSource, HistoryPort, SessionPort, SnapshotTaken
from watui.present import megabytes
from watui.tui.layout import QR_SIDE_PADDING, qr_cells, qr_layout
from watui.tui.messages import ActionFinished, SessionChanged, TrafficRead
from watui.tui.screens.confirm_clear import ConfirmClear
from watui.tui.screens.help import HelpScreen
from watui.tui.screens.history import HistoryScreen, HistorySource
from watui.tui.screens.recent_messages import RecentMessagesScreen
from watui.tui.widgets.alert_bar import AlertBar, FiringAlert, firing_after
from watui.tui.widgets.connection_panel import ConnectionPanel
from watui.tui.widgets.event_log import MAX_ENTRIES, EventLog, LogEntry, entry_for
from watui.tui.widgets.qr_code import QRPane
from watui.tui.widgets.recommendations import Recommendations
from watui.tui.widgets.session_panel import SessionPanel
from watui.tui.widgets.status_line import StatusLine
from watui.tui.widgets.traffic_panel import TrafficPanel, TrafficView

Clock = Callable[[], datetime]

# The events after which the traffic figures may have moved: a message in, an ack, a state change.
TRAFFIC_EVENTS = frozenset({"message", "ack", "state"})


class Scanner(Protocol):
    """The simulator's part the ``s`` key uses."""

    async def scan(self) -> Any: ...


class RuntimeParts(Protocol):
    """What a runtime hands the dashboard (watui/owner.py's Runtime): the session, its config, the
    simulator of a demo and the owner's journal."""

    @property
    def session(self) -> SessionPort: ...
    @property
    def config(self) -> Config: ...
    @property
    def simulator(self) -> Scanner | None: ...
    @property
    def journal(self) -> HistoryPort | None: ...


def local_now() -> datetime:
    """The wall clock in the local time zone (times on screen are local)."""
    return datetime.now().astimezone()


# What each key does, for the command palette (the footer shows the short descriptions).
ACTION_HELP = {
    "initialize": "Smart-initialize: validate, clean, start the browser, connect or show the QR",
    "reconnect": "Restart the browser on the saved session (or take over a conflict)",
    "clean": "Remove caches, temp files and stale locks; never the login",
    "clear": "Move the session to <session_path>/.quarantine/ (asks first); a new QR is needed",
    "scan": "Scan the QR on the simulator (demo only)",
    "toggle_log": "Show or hide the event log",
    "history": "History: uptime, the last 24 h, incidents, size and memory",
    "messages": "Recent messages in and out: time, direction, chat, status, size (t shows the texts)",
    "help": "Keys and panels",
}

# action name -> the core verb whose can() enables it
ACTION_VERBS = {"initialize": "initialize", "reconnect": "reconnect", "clean": "cleanup", "clear": "clear"}
SCANNABLE = (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE)


def describe_result(verb: str, result: object) -> tuple[str, str]:
    """(level, one line) for a finished verb; level is "good", "info" (e.g. waiting for a scan) or "error"."""
    if isinstance(result, InitResult):
        level = "good" if result.success else "info" if result.needs_qr else "error"
        return level, result.message or f"{verb}: {result.state.value}"
    if isinstance(result, CleanupReport):
        return "good", f"Cleaned: {result.message or f'freed {megabytes(result.freed_bytes)}'}"
    if isinstance(result, ClearReport):
        where = f" to {result.moved_to}" if result.moved_to else ""
        return "good", result.message or f"Session {'deleted' if result.purged else 'moved'}{where}"
    if verb == "scan":
        return "good", "QR scanned on the simulator"
    if verb == "backup":  # the session's backup() answers a SnapshotTaken
        snap = cast(SnapshotTaken, result)
        return "good", f"Snapshot {snap.id} taken and verified ({snap.path})"
    return "good", f"{verb} done"


def should_auto_initialize(info: SessionInfo) -> bool:
    """Start the session on open, unless that would act on something the operator should see first:
    a damaged session (initialize would quarantine it) or one another process holds."""
    disk = info.disk
    if disk is None:
        return True
    return not disk.is_damaged and PROBLEM_LOCKED not in disk.problems


LEVEL_GLYPH = {"good": "✔ ", "info": "→ ", "error": "✖ "}


class Body(Horizontal):
    """The area between header and footer; says when the terminal was resized (the QR may move)."""

    class Resized(Message):
        pass

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())


class WatuiApp(App[int]):
    """The live dashboard on one session (a SessionPort)."""

    CSS_PATH = "watui.tcss"
    TITLE = "watui"
    BINDINGS = [
        Binding("i", "initialize", "Init", id="initialize"),
        Binding("r", "reconnect", "Reconnect", id="reconnect"),
        Binding("k", "clean", "Clean", id="clean"),
        Binding("c", "clear", "Clear", id="clear"),
        Binding("s", "scan", "Scan", id="scan"),
        Binding("l", "toggle_log", "Log", id="log"),
        Binding("h", "history", "History", id="history", show=False),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("b", "backup", "Backup", id="backup"),
        # Last: where the footer is too narrow for every key (80 columns, the demo's s, b), the end is what
        # gives way; the Traffic panel's title names this key too.
        Binding("m", "messages", "Messages", id="messages"),
    ]

    # ``var``: the App itself never repaints for them; the bound widgets repaint what changed.
    info: var[SessionInfo] = var(SessionInfo)
    """The latest snapshot from the core."""
    now: var[datetime] = var(local_now)
    """The clock, ticked once a second; its time zone is the one times are shown in."""
    busy: var[str | None] = var(None)
    """The verb running now, this App's or another face's."""
    busy_since: var[datetime | None] = var(None)
    last_result: var[str] = var("")
    """The line the last finished action left on the status line."""
    log_entries: var[tuple[LogEntry, ...]] = var(())
    show_log: var[bool] = var(True)
    demo: var[bool] = var(False)
    alerts: var[tuple[FiringAlert, ...]] = var(())
    """The alert rules firing now (the alert bar)."""
    traffic: var[TrafficView] = var(TrafficView)
    """The session's traffic figures as last read (MESSAGES only; the Traffic panel)."""
    traffic_recount_s: float = 60.0
    """While the last hour counted something, read the figures again after this long without an event, so
    what leaves the hour's window leaves the panel too."""

    def __init__(
        self,
        manager: SessionPort,
        *,
        simulator: Scanner | None = None,
        clock: Clock | None = None,
        session_root: Path | None = None,
        auto_initialize: bool = True,
        api_address: str | None = None,
        history: HistorySource | None = None,
    ) -> None:
        super().__init__()
        self.history_source = history
        self.manager = manager
        self.simulator = simulator
        self.clock: Clock = clock or local_now
        self.session_root = session_root
        self.auto_initialize = auto_initialize
        self.api_address = api_address
        self._own_verbs: set[str] = set()
        self._stream: EventSource | None = None
        self._body: Body | None = None
        self._layout_key: object = None
        self._traffic_reading = False
        self._traffic_again = False
        self._traffic_timer: Timer | None = None
        self.set_reactive(WatuiApp.now, self.clock())
        self.set_reactive(WatuiApp.demo, simulator is not None)
        self.set_reactive(WatuiApp.info, manager.info)

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="◉")
        with Body(id="body") as body:
            self._body = body
            with Vertical(id="main"):
                yield AlertBar(id="alert-bar").data_bind(WatuiApp.alerts)
                yield Static(id="qr-too-small")
                with Horizontal(id="panels"):
                    yield SessionPanel(id="session").data_bind(WatuiApp.info)
                    yield ConnectionPanel(id="connection").data_bind(WatuiApp.info, WatuiApp.now)
                if self.has_messages:
                    yield TrafficPanel(id="traffic").data_bind(view=WatuiApp.traffic, now=WatuiApp.now)
                yield Recommendations(id="recommendations").data_bind(WatuiApp.info, WatuiApp.demo)
                with VerticalScroll(id="log"):
                    yield EventLog().data_bind(entries=WatuiApp.log_entries, now=WatuiApp.now)
                yield StatusLine(id="status").data_bind(
                    WatuiApp.busy, WatuiApp.busy_since, WatuiApp.now, WatuiApp.last_result
                )
            yield QRPane(id="qr-pane").data_bind(WatuiApp.info, WatuiApp.now, WatuiApp.demo)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = self._subtitle()
        for widget_id, title in (
            ("#session", "Session"),
            ("#connection", "Connection"),
            ("#recommendations", "Recommendations"),
            ("#log", "Log (l hides)"),
        ):
            self.query_one(widget_id).border_title = title
        self._apply_layout()
        self.run_worker(self._consume_events(), name="events", group="events", exit_on_error=False)
        if self.has_messages:
            self.query_one("#traffic").border_title = f"Traffic ({self.key_displays()['messages']}: messages)"
            self.read_traffic()
        self.set_interval(1.0, self._tick, name="clock")
        if self.auto_initialize and should_auto_initialize(self.info) and self._verb_enabled("initialize"):
            self.action_initialize()

    @property
    def has_messages(self) -> bool:
        """The session sends and receives messages (MESSAGES): the Traffic panel and ``m`` are shown."""
        return MESSAGES in self.manager.capabilities

    def _subtitle(self) -> str:
        where = "demo on the simulator" if self.simulator is not None else str(self.session_root or "")
        if self.api_address:
            where += f" · API {self.api_address}"
        return where

    def on_body_resized(self, message: Body.Resized) -> None:
        self._apply_layout()

    def _apply_layout(self) -> None:
        """Show the QR beside the panels, alone, or the size it needs (never clipped)."""
        if self._body is None:
            return
        width, height = self.size
        layout = qr_layout(self.info, width, height)
        pane_width = qr_cells(self.info.qr or "")[0] + QR_SIDE_PADDING if layout.mode == "beside" else None
        key = (layout, pane_width, width, height)
        if key == self._layout_key:
            return  # most snapshots change nothing here: skip the restyle
        self._layout_key = key
        for mode in ("beside", "full", "too_small"):
            self._body.set_class(layout.mode == mode, f"-qr-{mode.replace('_', '-')}")
        pane = self.query_one("#qr-pane")
        # Beside: exactly the code's width, so the panels get everything else.
        pane.styles.width = pane_width if pane_width is not None else "1fr"
        if layout.mode == "too_small":
            need_w, need_h = layout.need
            self.query_one("#qr-too-small", Static).update(
                f"Terminal too small for the QR: need {need_w}x{need_h}, have {width}x{height}"
            )

    def watch_show_log(self, show: bool) -> None:
        if self._body is not None:
            self._body.set_class(not show, "-log-hidden")

    # -- data from the core ------------------------------------------------------------------------
    async def _consume_events(self) -> None:
        """Forward every event's snapshot as a message; the handler runs on the App's loop."""
        self._stream = self.manager.subscribe()
        async for event in self._stream:
            self.post_message(SessionChanged(event.info, event))

    def on_unmount(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def on_session_changed(self, message: SessionChanged) -> None:
        if not self.screen_stack:  # an event that arrives while the app shuts down has nothing to draw on
            return
        with self.batch_update():
            self.info = message.info
            self.busy = self._current_busy()
            if message.event is not None:
                self._log_event(message.event)
                if message.event.type == "alert":
                    self.alerts = firing_after(self.alerts, message.event)
        self._apply_layout()
        self.refresh_bindings()
        if message.event is not None and self.has_messages:
            self._follow_messages(message.event)

    # -- messaging (MESSAGES) ----------------------------------------------------------------------
    def _follow_messages(self, event: Event) -> None:
        """Read the traffic again after an event that may move it; the recent messages follow it too."""
        if event.type in TRAFFIC_EVENTS:
            self.read_traffic()
        for screen in self.screen_stack:
            if isinstance(screen, RecentMessagesScreen):
                screen.follow(event)

    def read_traffic(self) -> None:
        """Read the figures off the UI (a worker); asked while a reading runs, read once more after it: a
        slow ``traffic()`` merges the events it missed into one more reading instead of queueing them."""
        if self._traffic_reading:
            self._traffic_again = True
            return
        self._traffic_reading = True
        if self._traffic_timer is not None:
            self._traffic_timer.stop()
            self._traffic_timer = None
        self.run_worker(self._read_traffic(), name="traffic", group="traffic", exit_on_error=False)

    async def _read_traffic(self) -> None:
        try:
            view = TrafficView(await self.manager.traffic())
        except Exception as exc:  # one line in the panel, never fatal: the dashboard keeps running
            view = TrafficView(error=first_line(exc))
        self.post_message(TrafficRead(view))

    def on_traffic_read(self, message: TrafficRead) -> None:
        self._traffic_reading = False
        self.traffic = message.view
        if self._traffic_again:
            self._traffic_again = False
            self.read_traffic()
            return
        figures = message.view.figures
        if figures is not None and (figures.sent or figures.failed or figures.received):
            self._traffic_timer = self.set_timer(self.traffic_recount_s, self.read_traffic, name="traffic-recount")

    def _log_event(self, event: Event) -> None:
        if event.type == "action" and not event.message and event.data.get("verb") in self._own_verbs:
            return  # this App's own verb: its ActionFinished line says how it went
        entry = entry_for(event)
        if entry is not None:
            self._append_log(entry)

    def _append_log(self, entry: LogEntry) -> None:
        self.log_entries = (*self.log_entries, entry)[-MAX_ENTRIES:]

    def _tick(self) -> None:
        self.now = self.clock()

    def _current_busy(self) -> str | None:
        """The core's running verb, else this App's own (a real verb before the demo's scan)."""
        try:
            core_busy = self.manager.busy
        except Exception:  # a manager that cannot answer is not busy
            core_busy = None
        own = sorted(self._own_verbs, key=lambda verb: (verb == "scan", verb))
        return core_busy or (own[0] if own else None)

    # -- keys --------------------------------------------------------------------------------------
    def _verb_enabled(self, action: str) -> bool:
        verb = ACTION_VERBS[action]
        if self._current_busy() not in (None, "scan"):
            return False
        try:
            return bool(self.manager.can(verb))
        except Exception:  # the core could not say: do not offer the key
            return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out (None) a key that cannot act now; hide ``s`` outside the demo."""
        if action in ACTION_VERBS:
            return True if self._verb_enabled(action) else None
        if action == "backup":  # hidden while snapshots are off (no key configured)
            if not self.info.snapshots_on or BACKUP not in self.manager.capabilities:
                return False
            return True if self._current_busy() in (None, "scan") and "backup" not in self._own_verbs else None
        if action == "messages":  # hidden unless the session declares MESSAGES
            return self.has_messages
        if action == "scan":
            if self.simulator is None:
                return False
            can_scan = self.info.qr is not None and self.info.state in SCANNABLE
            return True if can_scan and "scan" not in self._own_verbs else None
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The dashboard's keys in the command palette, those that can act now."""
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.action not in ACTION_HELP:
                continue
            if self.check_action(binding.action, ()) is True:
                title = f"{binding.description} ({binding.key_display or binding.key})"
                yield SystemCommand(title, ACTION_HELP[binding.action], partial(self.run_action, binding.action))

    def action_initialize(self) -> None:
        self._start("initialize", self.manager.smart_initialize)

    def action_reconnect(self) -> None:
        self._start("reconnect", self.manager.reconnect)

    def action_clean(self) -> None:
        self._start("cleanup", self.manager.cleanup)

    def action_clear(self) -> None:
        root = self.session_root or Path(".")
        self.push_screen(ConfirmClear(root), callback=self._clear_answered)

    def _clear_answered(self, clear: bool | None) -> None:
        if clear and self._verb_enabled("clear"):
            self._start("clear", self.manager.clear)

    def action_scan(self) -> None:
        if self.simulator is not None:
            self._start("scan", self.simulator.scan)

    def action_backup(self) -> None:
        if BACKUP in self.manager.capabilities:
            self._start("backup", self.manager.backup)

    def action_messages(self) -> None:
        if self.has_messages:
            self.push_screen(RecentMessagesScreen(self.manager, self.clock))

    def action_toggle_log(self) -> None:
        self.show_log = not self.show_log

    def action_history(self) -> None:
        self.push_screen(HistoryScreen(self.history_source))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_keys()))

    def help_keys(self) -> dict[str, str]:
        """The keys the help lists: all of them but ``m`` without MESSAGES."""
        return {k: v for k, v in self.key_displays().items() if k != "messages" or self.has_messages}

    def key_displays(self) -> dict[str, str]:
        """Binding id → the key(s) as shown, after any [keys] remapping."""
        keymap = self._keymap  # what set_keymap() applied ([keys] in config.toml)
        out = {}
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding) and binding.id is not None
            keys = keymap.get(binding.id, binding.key)
            out[binding.id] = ",".join(self.get_key_display(Binding(k, binding.action)) for k in keys.split(","))
        return out

    # -- running verbs -----------------------------------------------------------------------------
    def _start(self, verb: str, call: Callable[[], Awaitable[object]]) -> None:
        self._own_verbs.add(verb)
        with self.batch_update():
            self.busy = self._current_busy()
            self.busy_since = self.clock()
        self.refresh_bindings()
        self.run_worker(self._run_verb(verb, call), name=verb, group=f"verb-{verb}", exit_on_error=False)

    async def _run_verb(self, verb: str, call: Callable[[], Awaitable[object]]) -> None:
        try:
            level, text = describe_result(verb, await call())
        except WatuiError as exc:
            level, text = "error", str(exc)
        except Exception as exc:  # shown, never fatal: the dashboard keeps running
            level, text = "error", f"{verb} failed: {exc}"
        self.post_message(ActionFinished(verb, level, text))

    def on_action_finished(self, message: ActionFinished) -> None:
        self._own_verbs.discard(message.verb)
        line = LEVEL_GLYPH.get(message.level, "") + message.text
        with self.batch_update():
            self.busy = self._current_busy()
            self.last_result = line
            self._append_log(LogEntry(self.clock(), line, message.level))
        self.refresh_bindings()


def build_app(
    manager: SessionPort,
    *,
    config: Config | None = None,
    history: HistoryPort | None = None,
    simulator: Scanner | None = None,
    clock: Clock | None = None,
    auto_initialize: bool = True,
    api_address: str | None = None,
) -> WatuiApp:
    """The one way to build the dashboard on a session: ``config`` names its folder and remaps keys,
    ``history`` is the owner's journal (else the history screen reads the file)."""
    app = WatuiApp(
        manager,
        simulator=simulator,
        clock=clock,
        session_root=config.session_root if config is not None else None,
        auto_initialize=auto_initialize,
        api_address=api_address,
        history=history_source(history, config),
    )
    if config is not None and config.keys.remapped():
        app.set_keymap(config.keys.remapped())  # [keys] in config.toml, by binding id
    return app


def build_app_for(
    runtime: RuntimeParts, *, clock: Clock | None = None, auto_initialize: bool = True, api_address: str | None = None
) -> WatuiApp:
    """The dashboard on what a runtime holds (the CLI's ``watui``, and the tests of it)."""
    return build_app(
        runtime.session,
        config=runtime.config,
        history=runtime.journal,
        simulator=runtime.simulator,
        clock=clock,
        auto_initialize=auto_initialize,
        api_address=api_address,
    )


def history_source(history: HistoryPort | None, config: Config | None) -> HistorySource | None:
    """The journal of the session this dashboard shows: the live one of the owner process, else the file."""
    if history is not None:
        live = history

        async def live_report() -> dict[str, Any]:
            live.sample_now()  # the view ends at the session as it is now, not as of the last sample
            return await live.report(86400.0)

        return live_report
    if config is None:
        return None
    path = history_path(config)
    known = config

    async def read() -> dict[str, Any]:
        return await asyncio.to_thread(
            read_report,
            path,
            since_s=86400.0,
            down_after_s=known.alerts.down_after_s,
            gap_s=float(known.history.sample_interval_s),
        )

    return read
