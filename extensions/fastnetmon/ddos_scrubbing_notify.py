#!/usr/bin/env python3
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FastNetMon notify script for ddos.scrubbing.

Set it as FastNetMon's ``notify_script_path``. FastNetMon 1.2.x calls it as

    ddos_scrubbing_notify.py <IP> <incoming|outgoing|...> <pps> <ban|unban|attack_details>

with an attack report on stdin for ``ban`` and ``attack_details``. It maps ``ban`` to an
incident ``started`` and ``unban`` to ``resolved`` (the same incident id for both: the IP and
the time of the ban, remembered in a small state directory), and ``attack_details`` to more
detail on the same incident, never a second one. A later ban of the same IP is a new incident
with a new id (a resolved id is closed for good). The event carries ``timestamp`` (now) and a
``delivery`` id, and ``attack`` (type, protocol, destination ports) read from the ban report.

It posts the event to the rulebook's internal webhook (``POST /fastnetmon/<workspace>`` with the
bearer token; straight to ``webhook_url``: no proxy from the environment, and a redirect is
never followed, since following it would hand the token and the event to whatever host it
names and log the other host's answer as a delivery), or, with ``mode = playbook``, starts
``ansible-playbook ddos.scrubbing.incident`` detached. Each answer is logged for what it says:
queued, already received (an earlier attempt got through), refused and why; a redirect, or an
answer that is not the rulebook's, is NOT DELIVERED. No answer or no connection is retried with the same delivery id
(so the rulebook and the ledger never take it twice) until ``budget`` seconds have passed.

Whatever happens it reads all of stdin (FastNetMon can crash otherwise) and exits 0 within the
budget: a detector must never wait on us long. Problems go to the log file.

Configuration: environment variables, else ``/etc/ddos-scrubbing/fastnetmon.ini`` (section
``[ddos_scrubbing]``, or the file named by ``DDOS_SCRUBBING_NOTIFY_CONFIG``):

    webhook_url = http://127.0.0.1:5001     (DDOS_SCRUBBING_WEBHOOK_URL)
    token = ...                             (DDOS_SCRUBBING_TOKEN)
    workspace = default                     (DDOS_SCRUBBING_WORKSPACE)
    state_dir = /var/lib/ddos-scrubbing/fastnetmon   (DDOS_SCRUBBING_STATE_DIR)
    log_file = /var/log/ddos-scrubbing-notify.log    (DDOS_SCRUBBING_LOG_FILE)
    timeout = 3                             (DDOS_SCRUBBING_TIMEOUT, seconds per attempt)
    budget = 10                             (DDOS_SCRUBBING_BUDGET, seconds for all attempts)
    mode = webhook | playbook               (DDOS_SCRUBBING_MODE)
    inventory = /etc/ansible/scrubbing.yml  (DDOS_SCRUBBING_INVENTORY, for mode = playbook)
    ansible_playbook = ansible-playbook     (DDOS_SCRUBBING_ANSIBLE_PLAYBOOK)
"""

from __future__ import annotations

import time

# When FastNetMon's call reached us (the interpreter's start is before it, the imports after):
# every log line says it, so that an operator can line the adapter up with FastNetMon's own log.
CALLED = time.time()

import configparser  # noqa: E402 pylint: disable=wrong-import-position
import ipaddress  # noqa: E402 pylint: disable=wrong-import-position
import json  # noqa: E402 pylint: disable=wrong-import-position
import os  # noqa: E402 pylint: disable=wrong-import-position
import re  # noqa: E402 pylint: disable=wrong-import-position
import select  # noqa: E402 pylint: disable=wrong-import-position
import sys  # noqa: E402 pylint: disable=wrong-import-position
import urllib.error  # noqa: E402 pylint: disable=wrong-import-position
import urllib.parse  # noqa: E402 pylint: disable=wrong-import-position
import urllib.request  # noqa: E402 pylint: disable=wrong-import-position

DEFAULTS = {
    "webhook_url": "http://127.0.0.1:5001", "token": "", "workspace": "default",
    "state_dir": "/var/lib/ddos-scrubbing/fastnetmon", "log_file": "/var/log/ddos-scrubbing-notify.log",
    "timeout": "3", "budget": "10", "mode": "webhook", "inventory": "", "ansible_playbook": "ansible-playbook",
}
ACTIONS = {"ban": "started", "attack_details": "started", "unban": "resolved"}
MAX_REPORT = 64 * 1024  # what we keep of FastNetMon's report (we still read all of it)
# A packet line of FastNetMon's report: "<src>:<sport> > <dst>:<dport> protocol: <proto> ..."
PACKET = re.compile(r"(\S+):(\d+) > (\S+):(\d+) protocol: (\w+)")
WORD = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def read_stdin(action, wait=0.5):
    """Drain stdin completely. For unban FastNetMon sends nothing: do not block on it."""
    if sys.stdin is None or sys.stdin.closed:
        return ""
    try:
        if action == "unban" and not select.select([sys.stdin], [], [], wait)[0]:
            return ""
        data = sys.stdin.buffer.read()
    except (OSError, ValueError):
        return ""
    return data[:MAX_REPORT].decode("utf-8", "replace")


def load_config():
    config = dict(DEFAULTS)
    path = os.environ.get("DDOS_SCRUBBING_NOTIFY_CONFIG", "/etc/ddos-scrubbing/fastnetmon.ini")
    parser = configparser.ConfigParser()
    if parser.read(path) and parser.has_section("ddos_scrubbing"):
        config.update(parser["ddos_scrubbing"])
    for key in DEFAULTS:
        value = os.environ.get("DDOS_SCRUBBING_" + key.upper())
        if value is not None:
            config[key] = value
    return config


def parse_report(text):
    """The few report lines worth keeping as incident details (``Key: value`` lines)."""
    details = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower().replace(" ", "_")
        if sep and key in ("attack_type", "initial_attack_power", "peak_attack_power", "attack_direction",
                           "attack_protocol", "total_incoming_traffic", "total_incoming_pps",
                           "average_incoming_traffic", "average_incoming_pps"):
            details[key] = value.strip()
    return details


UNITS = {"": 1, "bps": 1, "kbps": 10 ** 3, "mbps": 10 ** 6, "gbps": 10 ** 9}


def traffic(value, per_second="bps"):
    """A FastNetMon figure ("1234 mbps", "56789 pps") as a whole number per second, None if unreadable."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)(?:\s+per\s+second)?\s*", str(value or "").lower())
    if not match:
        return None
    unit = match.group(2)
    if per_second == "pps":
        return int(float(match.group(1))) if unit in ("", "pps", "packets") else None
    return int(float(match.group(1)) * UNITS[unit]) if unit in UNITS else None


def parse_attack(details, report, ip):
    """``attack`` for the incident: FastNetMon's attack type and protocol, the ports attacked on ``ip``."""
    attack = {}
    family = details.get("attack_type", "").strip().lower().replace(" ", "_")
    if WORD.fullmatch(family):
        attack["family"] = family
    protocol = details.get("attack_protocol", "").strip().lower()
    if WORD.fullmatch(protocol):
        attack["protocol"] = protocol
    ports = set()
    for match in PACKET.finditer(report):
        if match.group(3) == ip and 0 < int(match.group(4)) < 65536:
            ports.add(int(match.group(4)))
            if "protocol" not in attack and WORD.fullmatch(match.group(5).lower()):
                attack["protocol"] = match.group(5).lower()
    if ports:
        attack["ports"] = sorted(ports)[:32]
    return attack


def attack_size(details):
    """The size, for scrubbing_min_bps / scrubbing_min_pps: the report's totals, else the pps argument."""
    size = {"bps": traffic(details.get("total_incoming_traffic")),
            "pps": traffic(details.get("total_incoming_pps"), "pps")}
    if size["pps"] is None:
        size["pps"] = traffic(details.get("pps"), "pps")
    return {k: v for k, v in size.items() if v is not None}


def incident_id(config, ip, action):
    """The same id for a ban and its unban: the IP and when it was banned (kept in state_dir).

    Every ban gets a new id (down to a random suffix): a resolved incident id is closed, so a
    re-ban of the same IP must open a new incident.
    """
    path = os.path.join(config["state_dir"], ip.replace(":", "_"))
    if action == "ban":
        ident = "fastnetmon-%s-%s-%s" % (ip, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), os.urandom(3).hex())
        try:
            os.makedirs(config["state_dir"], exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(ident)
        except OSError:
            pass  # without a state dir the id of the unban falls back to the IP alone
        return ident
    try:
        with open(path, encoding="utf-8") as handle:
            ident = handle.read().strip()
        if action == "unban":
            os.unlink(path)
        return ident
    except OSError:
        return "fastnetmon-%s" % ip


def _answer(exc_or_response):
    """The rulebook's JSON answer ({"status", "reason"}), or {} when it said nothing readable."""
    try:
        return json.loads(exc_or_response.read().decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse every redirect: urllib then raises the 3xx as an HTTPError, read by post()."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Only to webhook_url itself: no http_proxy/https_proxy from the environment, no redirect.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _location_host(exc, url):
    location = exc.headers.get("Location") if exc.headers else None
    if not location:
        return "no Location"
    target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
    try:
        port = target.port
    except ValueError:
        port = None
    host = target.hostname or "?"
    return "%s://%s%s" % (target.scheme, "[%s]" % host if ":" in host else host, ":%d" % port if port else "")


def post(config, event, clock=time.monotonic):
    """Deliver ``event``; return one line saying what happened. Retries until the budget is spent."""
    url = "%s/fastnetmon/%s" % (config["webhook_url"].rstrip("/"), config["workspace"])
    body = json.dumps(event).encode("utf-8")
    headers = {"Content-Type": "application/json", "Authorization": "Bearer %s" % config["token"]}
    start, timeout, budget = clock(), float(config["timeout"]), float(config["budget"])
    attempt, pause, problems = 0, 0.25, []
    while True:
        attempt += 1
        left = budget - (clock() - start)
        try:
            request = urllib.request.Request(url, data=body, method="POST", headers=headers)
            with _OPENER.open(request, timeout=max(0.1, min(timeout, left))) as response:
                answer = _answer(response)
            if answer.get("status") not in ("queued", "noted"):
                # Only the rulebook's own answer says the event is in; anything else is not a delivery.
                return "NOT DELIVERED: HTTP %d without the rulebook's answer (status %r) on attempt %d; check that " \
                    "webhook_url %s is ansible-rulebook's internal listener" % (
                        response.status, answer.get("status"), attempt, config["webhook_url"])
            return "delivered (HTTP %d, %s) on attempt %d" % (response.status, answer["status"], attempt)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                return "NOT DELIVERED: webhook_url answered HTTP %d, a redirect to %s; not followed (the token and " \
                    "the event go only to %s). Set webhook_url to the rulebook's listener itself" % (
                        exc.code, _location_host(exc, url), config["webhook_url"])
            answer = _answer(exc)
            if exc.code == 409:  # the ledger or the rulebook has this delivery id already
                return "delivered: an earlier attempt got through (HTTP 409 on attempt %d: %s)" % (
                    attempt, answer.get("reason", "already received"))
            if exc.code < 500:  # refused: sending it again will not change the answer
                return "REFUSED by the rulebook (HTTP %d): %s" % (exc.code, answer.get("reason", exc.reason))
            problems.append("HTTP %d" % exc.code)
        except (OSError, ValueError) as exc:  # no connection, or no answer in time: it may have arrived
            reason = getattr(exc, "reason", exc)
            problems.append("no answer within %.1f s (it may have arrived)" % min(timeout, left)
                            if "timed out" in str(reason) else str(reason))
        left = budget - (clock() - start)
        if left <= pause:
            return "NOT DELIVERED after %d attempt(s) in %.1f s: %s; the event is lost, check that ansible-rulebook " \
                "listens on %s" % (attempt, clock() - start, "; ".join(problems), config["webhook_url"])
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def run_playbook(config, event):
    """mode = playbook: start the incident playbook detached; never wait for it."""
    import subprocess  # only here: the webhook mode, the usual one, does not pay for its import

    incident = dict(event["incident"], workspace=config["workspace"])
    cmd = [config["ansible_playbook"], "ddos.scrubbing.incident", "-e", json.dumps({"incident": incident})]
    if config["inventory"]:
        cmd[2:2] = ["-i", config["inventory"]]
    with open(os.devnull, "wb") as devnull:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=devnull, stderr=devnull, start_new_session=True)
    return "started"


def stamp(when):
    """``when`` (epoch seconds) in UTC to the millisecond: 2026-12-04T06:59:01.790Z."""
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)), int(when % 1 * 1000))


def log(config, message):
    try:
        with open(config["log_file"], "a", encoding="utf-8") as handle:
            handle.write("%s %s\n" % (stamp(time.time()), message))
    except OSError:
        sys.stderr.write(message + "\n")


def main(argv):
    action = argv[4] if len(argv) > 4 else ""
    report = read_stdin(action)  # first, always
    config = load_config()
    if len(argv) < 5 or action not in ACTIONS:
        log(config, "ignored a call with arguments %r (expected: IP direction pps ban|unban|attack_details)" % argv[1:])
        return 0
    ip, direction, pps = argv[1], argv[2], argv[3]
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        log(config, "ignored a call for %r: not an IP address" % ip)
        return 0
    details = parse_report(report)
    details.update(direction=direction, pps=pps, fastnetmon_action=action)
    incident = {"id": incident_id(config, ip, action), "status": ACTIONS[action], "target": ip,
                "source": "fastnetmon", "timestamp": int(time.time()), "delivery": os.urandom(16).hex(),
                "details": details}
    attack = parse_attack(details, report, ip)
    if incident["status"] == "started":  # an unban's figures are the end of the attack, not its size
        attack.update(attack_size(details))
    if attack:
        incident["attack"] = attack
    event = {"incident": incident}
    # The delivery id is the one the rulebook logs and the ledger keeps; the two times place this
    # call between FastNetMon's "Call script" line and the rulebook's "queued" line.
    when = "delivery %s, called %s" % (incident["delivery"], stamp(CALLED))
    try:
        outcome = run_playbook(config, event) if config["mode"] == "playbook" else post(config, event)
        log(config, "%s %s -> %s %s: %s (%s, answered after %.3f s)" % (
            action, ip, incident["status"], incident["id"], outcome, when, time.time() - CALLED))
    except Exception as exc:  # never let a detector see us fail
        log(config, "%s %s: could not deliver %s: %s (%s)" % (action, ip, incident["id"], exc, when))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception:  # pragma: no cover - the last guard: exit 0 whatever happened
        sys.exit(0)
