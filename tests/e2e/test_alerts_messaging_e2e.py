"""The outbox_stuck alert end to end: a `watch` owner (a real process, a real Chromium) on `watui sim`, a send
held in flight (Chromium frozen with SIGSTOP while the session is still CONNECTED), and a real webhook receiver
that checks the signature: one firing, then one resolved once the send goes. The owner's /metrics says the same."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.alert_receiver import Receiver, receiver
from tests.support.messaging_e2e import CONFIG, CONTACTS, SOCKET, Owner, Site, _UnixHTTP, connected_owner
from tests.support.messaging_e2e import wait_until as wait

pytestmark = pytest.mark.browser
SECRET = "stuck-secret"


def metrics(owner: Owner) -> dict[str, float]:
    conn = _UnixHTTP(owner.cwd / SOCKET)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
    return out


def alerts(rec: Receiver) -> list[tuple[str, str, str]]:
    return [(r.json["alert"], r.json["status"], r.json["state"]) for r in rec.requests if r.status == 200]


def test_a_send_held_while_connected_fires_outbox_stuck_once_at_the_receiver_and_resolves(
    tmp_path: Path, site: Site
) -> None:
    with receiver(secret=SECRET) as rec:
        config = CONFIG + (
            "[session]\nhealth_check_interval_ms = 600000\n"  # the frozen page is not noticed: still CONNECTED
            "[alerts]\noutbox_stuck_s = 2\ndown_after_s = 3600\n"
            f'[[alerts.webhook]]\nurl = "{rec.url}"\nsecret = "{SECRET}"\n'
        )
        with connected_owner(tmp_path / "owner", site, config) as owner:
            first = owner.send(CONTACTS[0], "before the freeze")["id"]
            wait(lambda: owner.message(first)["status"] in ("sent", "delivered", "read"), "a first send")
            assert metrics(owner)["watui_messages_sent_total"] == 1.0
            owner.signal_browsers(signal.SIGSTOP)
            try:
                held = owner.send(CONTACTS[1], "held in flight")["id"]
                wait(lambda: alerts(rec), "the outbox_stuck alert", timeout=30)
                assert alerts(rec) == [("outbox_stuck", "firing", "CONNECTED")]
                assert "1 message(s) waiting in the outbox" in rec.requests[0].json["message"]
                seen = metrics(owner)
                assert seen["watui_alert_firing{alert=outbox_stuck}"] == 1.0
                assert seen["watui_outbox_queued"] + seen["watui_outbox_sending"] == 1.0
                assert site.received()[-1]["id"] == first  # the held one has not gone
            finally:
                owner.signal_browsers(signal.SIGCONT)
            wait(lambda: any(m["id"] == held for m in site.received()), "the held send to go")
            wait(lambda: len(alerts(rec)) >= 2, "the resolve", timeout=30)
            assert metrics(owner)["watui_alert_firing{alert=outbox_stuck}"] == 0.0
        assert alerts(rec) == [("outbox_stuck", "firing", "CONNECTED"), ("outbox_stuck", "resolved", "CONNECTED")]
    assert all(r.status == 200 for r in rec.requests)  # every delivery signed with the secret
