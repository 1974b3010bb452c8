# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The contract every provider implements, and the runner that drives it.

A provider is a small class that knows how to *read* its mechanism's current state, which
part of that state is the *snapshot* to keep before activating, what state *activation* and
*restoration* want, and how to *apply* a wanted state. The runner turns
``state: active | inactive`` into those calls, so idempotency, check mode, diff mode, waiting
and the result shape are written once:

    plan = plan_change(provider, "active", snapshot=None)   # reads only
    if plan.changed and not check_mode:
        after = execute(plan, wait=True, wait_timeout=300)  # writes
    result = plan.result(after)

``plan_change`` never writes, so the orchestrator can plan every integration, persist the
snapshots in the ledger, and only then write (a run killed between the two can be finished
by ``reconcile`` without losing the real pre-incident snapshot).
"""

from __future__ import annotations

import copy
import json
import time

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError

STATES = ("active", "inactive")

# Options every provider module takes besides its own (documented in the
# ddos.scrubbing.common doc fragment).
COMMON_OPTIONS = dict(
    state=dict(type="str", default="active", choices=list(STATES)),
    snapshot=dict(type="dict"),
    api_url=dict(type="str"),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=4),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
    wait_sleep=dict(type="float"),
)
INFO_OPTIONS = dict((k, COMMON_OPTIONS[k]) for k in ("api_url", "timeout", "retries"))


class Finding(dict):
    """One line of a Test-button report: ``{check, ok, detail}`` (``level`` ok/warning/error)."""

    def __init__(self, check, ok, detail, level=None):
        super().__init__(check=check, ok=bool(ok), detail=detail,
                         level=level or ("ok" if ok else "error"))


class Findings(list):
    """What a provider's test() returns: a list of Finding; ``state`` is the state it read."""

    def __init__(self, state=None):
        super().__init__()
        self.state = state


class Provider:
    """Base class of the eight mechanisms. Subclasses declare and implement:

    name            module name, e.g. ``cloudflare_magic_transit``
    title           what an operator calls it, used in messages
    options         argument spec of the provider's own options (credentials with no_log
                    and env fallbacks); common options are added by the module glue
    required_one_of / mutually_exclusive / required_together   as in AnsibleModule
    default_api_url the real API base URL
    wait_sleep      seconds between two reads while waiting (be gentle with rate limits)

    read() -> dict             the mechanism's current state (JSON-able), reads only
    is_active(state) -> bool   is protection on in that state?
    snapshot(state) -> dict    what must be kept to put it back exactly
    activation(state, snapshot) -> dict   the wanted (partial) state when active
    restoration(state, snapshot) -> dict  the wanted state when withdrawn with a snapshot
    release(state) -> dict     the wanted state when withdrawn without a snapshot
    apply(state, wanted) -> dict|None     write; returns the new state when the API says it
    test() -> [Finding]        the Test button: credentials, object, write permission
    """

    name = ""
    title = ""
    options = {}
    required_one_of = []
    mutually_exclusive = []
    required_together = []
    required_if = []
    default_api_url = ""
    wait_sleep = 2.0
    check_mode = False  # the Test in check mode: no request that writes, not even a harmless probe

    def __init__(self, params, sleep=time.sleep, routes=None):
        self.params = params
        self.sleep = sleep
        self.routes = routes  # per-target mechanisms run by the engine: its decision (_policy.Routes)
        self._http = None
        self.warnings = []  # shown to the operator by the module / playbook (e.g. a retired option)

    def warn(self, message):
        self.warnings.append("%s: %s" % (self.name, message))

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def api_url(self):
        return (self.params.get("api_url") or self.default_api_url).rstrip("/")

    @property
    def http(self):
        if self._http is None:
            self._http = self.connect()
        return self._http

    def connect(self):
        """Return the HttpClient (or SDK client) this provider talks through."""
        raise NotImplementedError

    def bearer_client(self, token, error_parser):
        """The HttpClient of a JSON API authenticated with ``Authorization: Bearer``."""
        from ansible_collections.ddos.scrubbing.plugins.module_utils._http import BearerToken, HttpClient

        return HttpClient(self.name, self.api_url, timeout=self.params["timeout"], retries=self.params["retries"],
                          auth=BearerToken(token), headers={"Content-Type": "application/json"},
                          secrets=self.secrets(), error_parser=error_parser, hint=self.hint, sleep=self.sleep)

    # How to fix an API error, by HTTP status; ``{option}`` placeholders name the inventory's values.
    status_hints = {}

    def hint(self, status, code, message, method, path):
        """How to fix an API error (providers declare ``status_hints`` or override this)."""
        return self.status_hints.get(status, "").format(**self.params)

    def secrets(self):
        """Every secret option value, so messages can be scrubbed of them."""
        return [self.params.get(k) for k, spec in self.options.items() if spec.get("no_log") and self.params.get(k)]

    def fail(self, message, hint=None):
        raise InputError(self.name, message, hint=hint)

    def _wait_timeout(self):
        """The module's wait_timeout (0 is a valid value: do not wait at all)."""
        value = self.params.get("wait_timeout")
        return 300 if value is None else value

    def api_calls(self):
        http = self._http
        return list(getattr(http, "calls", []))

    def close(self):
        if self._http is not None and hasattr(self._http, "close"):
            self._http.close()

    # -- the contract -------------------------------------------------------------------------
    def read(self):
        raise NotImplementedError

    def is_active(self, state):
        raise NotImplementedError

    def snapshot(self, state):
        raise NotImplementedError

    def activation(self, state, snapshot):
        raise NotImplementedError

    def restoration(self, state, snapshot):
        raise NotImplementedError

    def release(self, state):
        raise NotImplementedError

    def apply(self, state, wanted):
        raise NotImplementedError

    def test(self):
        raise NotImplementedError

    # -- defaults providers may override -----------------------------------------------------
    def matches(self, state, wanted):
        """Is every wanted field already so? (no write needed)"""
        return all(state.get(k) == v for k, v in wanted.items())

    def settled(self, state, wanted):
        """While waiting: has the provider applied the change?"""
        return self.matches(state, wanted)

    def predict(self, state, wanted):
        """The state after applying ``wanted`` (check mode shows this as ``after``)."""
        after = copy.deepcopy(state)
        after.update(copy.deepcopy(wanted))
        return after


class Plan:
    """What ``state`` asks of one provider, computed from reads only."""

    def __init__(self, provider, state, before, wanted, snapshot):
        self.provider = provider
        self.state = state
        self.before = before
        self.wanted = wanted
        self.snapshot = snapshot
        self.changed = not provider.matches(before, wanted)

    def result(self, after=None, check_mode=False):
        """The module result: changed, active, before, after, snapshot, diff."""
        provider = self.provider
        if after is None:
            after = provider.predict(self.before, self.wanted) if self.changed else self.before
        result = dict(
            changed=self.changed,
            active=provider.is_active(after),
            before=self.before,
            after=after,
            snapshot=self.snapshot,
            diff=dict(before=self.before, after=after),
        )
        if check_mode and self.changed:
            result["msg"] = "check mode: no change was sent to %s" % provider.title
        return result


def plan_change(provider, state, snapshot=None):
    """Read the provider and decide what ``state`` needs. Never writes."""
    if state not in STATES:
        raise InputError(provider.name, "state must be one of %s, got %r" % (", ".join(STATES), state))
    if snapshot is not None and not isinstance(snapshot, dict):
        raise InputError(provider.name, "snapshot must be the dict a previous activation returned")
    before = provider.read()
    if state == "active":
        if snapshot is None:
            # Taken before any write: if protection was already on (always-on prefix, firewall
            # already enabled), the snapshot says so and withdrawal will leave it on.
            snapshot = provider.snapshot(before)
        wanted = provider.activation(before, snapshot)
    elif snapshot is not None:
        wanted = provider.restoration(before, snapshot)
    else:
        wanted = provider.release(before)
    return Plan(provider, state, before, wanted, snapshot)


def execute(plan, wait=True, wait_timeout=300, wait_sleep=None, clock=time.monotonic):
    """Write the plan's wanted state; with ``wait``, poll until the provider reports it."""
    provider = plan.provider
    after = provider.apply(plan.before, plan.wanted)
    if not wait:
        return after if after is not None else provider.predict(plan.before, plan.wanted)
    if after is not None and provider.settled(after, plan.wanted):
        return after
    return wait_until_settled(provider, plan.wanted, wait_timeout, wait_sleep, clock)


def wait_until_settled(provider, wanted, wait_timeout, wait_sleep=None, clock=time.monotonic):
    return wait_for(provider, lambda state: provider.settled(state, wanted), wait_timeout, wait_sleep, clock)


def wait_for(provider, done, wait_timeout, wait_sleep=None, clock=time.monotonic,
             what="did not report it applied"):
    """Re-read ``provider`` until ``done(state)``; fail (never just warn) after ``wait_timeout``."""
    sleep_for = wait_sleep if wait_sleep is not None else provider.wait_sleep
    deadline = clock() + wait_timeout
    while True:
        current = provider.read()
        if done(current):
            return current
        if clock() >= deadline:
            # The last state read says what the provider is stuck on (a pending task, a status).
            raise ProviderError(
                provider.name,
                "the change was accepted but %s %s within wait_timeout=%ss; last state read: %s"
                % (provider.title, what, wait_timeout, _brief(current)),
                hint="Raise wait_timeout, or run again later: the run is idempotent and will only "
                     "wait for what is still pending")
        provider.sleep(sleep_for)


def _brief(state, limit=600):
    """A provider state as one short line for a message (sorted keys, cut at ``limit``)."""
    text = json.dumps(state, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
