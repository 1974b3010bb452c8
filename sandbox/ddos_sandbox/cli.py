"""``ddos-sandbox``: run the provider simulators on loopback, or drive a running one.

    ddos-sandbox serve [--port 8765] [--latency 0.05] [--providers cloudflare,ovh] [--scenario FILE]
                       [--ready-file FILE] [--pid-file FILE]
    ddos-sandbox log [--writes] [--url URL]        what the providers received
    ddos-sandbox state [--url URL]                 every provider's current state
    ddos-sandbox fault --provider cloudflare --status 429 --retry-after 1 [--count N]
    ddos-sandbox reset [--url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request

DEFAULT_PORT = 8765


def _url(args):
    return (args.url or os.environ.get("DDOS_SANDBOX_URL") or "http://127.0.0.1:%d" % DEFAULT_PORT).rstrip("/")


def _call(args, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(_url(args) + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    return json.loads(text) if text else None


def serve(args):
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.registry import build

    names = args.providers.split(",") if args.providers else None
    sandbox = Sandbox(build(names))
    if args.scenario:
        # A rehearsal's own accounts, tokens and objects: {"cloudflare": {...}, "vultr": {...}};
        # providers it does not name keep their bundled scenario.
        with open(args.scenario, encoding="utf-8") as handle:
            scenario = json.load(handle)
        unknown = sorted(set(scenario) - set(sandbox.simulators))
        if unknown:
            raise SystemExit("ddos-sandbox: unknown provider(s) in %s: %s (known: %s)" % (
                args.scenario, ", ".join(unknown), ", ".join(sorted(sandbox.simulators))))
        sandbox.reset(scenario)
    sandbox.latency = args.latency
    sandbox.start(args.host, args.port)
    info = {"url": sandbox.url, "providers": {n: sandbox.api_url(n) for n in sandbox.simulators}}
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(info, handle)
        os.replace(tmp, args.ready_file)
    if args.pid_file:
        # So whoever started it in the background stops exactly this process, by its pid.
        with open(args.pid_file, "w", encoding="utf-8") as handle:
            handle.write("%d\n" % os.getpid())
    print("ddos-sandbox listening on %s" % sandbox.url, flush=True)
    for name, url in info["providers"].items():
        print("  %-28s %s" % (name, url), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    sandbox.stop()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ddos-sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="control URL of a running sandbox (default $DDOS_SANDBOX_URL "
                                      "or http://127.0.0.1:%d)" % DEFAULT_PORT)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="start the simulators")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every provider call")
    p.add_argument("--providers", help="comma-separated subset of simulators")
    p.add_argument("--ready-file", help="write the URLs here (JSON) once listening")
    p.add_argument("--pid-file", help="write this process's pid here once listening")
    p.add_argument("--scenario", help="JSON file with each provider's starting state (default: the bundled one)")
    p = sub.add_parser("log", help="print the requests the providers received")
    p.add_argument("--writes", action="store_true", help="only POST/PUT/PATCH/DELETE")
    sub.add_parser("state", help="print every provider's state")
    sub.add_parser("reset", help="back to the bundled scenario")
    p = sub.add_parser("fault", help="inject a fault")
    p.add_argument("--provider")
    p.add_argument("--method")
    p.add_argument("--path", help="regex on the path below the provider prefix")
    p.add_argument("--status", type=int)
    p.add_argument("--retry-after", type=int)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--reset-connection", action="store_true")
    p.add_argument("--redirect", help="answer a redirect (--status, default 307) to this base URL + the path")
    p.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)

    if args.command == "serve":
        return serve(args)
    if args.command == "log":
        for e in _call(args, "GET", "/_sandbox/log"):
            if args.writes and not e["write"]:
                continue
            flag = " SPEC-VIOLATION: %s" % "; ".join(e["spec_errors"]) if e["spec_errors"] else ""
            print("%4d %-13s %-6s %-70s %s%s" % (e["seq"], e["provider"], e["method"], e["path"], e["status"], flag))
        return 0
    if args.command == "state":
        print(json.dumps(_call(args, "GET", "/_sandbox/state"), indent=2, sort_keys=True))
        return 0
    if args.command == "reset":
        _call(args, "POST", "/_sandbox/reset", {})
        return 0
    if args.command == "fault":
        spec = {"provider": args.provider, "method": args.method, "path": args.path, "status": args.status,
                "count": args.count, "delay": args.delay, "reset": args.reset_connection, "redirect": args.redirect}
        if args.retry_after is not None:
            spec["headers"] = {"Retry-After": str(args.retry_after)}
        print(json.dumps(_call(args, "POST", "/_sandbox/faults", spec)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
