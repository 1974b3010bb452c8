#!/usr/bin/env bash
# The incident demo: start the provider sandbox on 127.0.0.1, then run
#   incident A started -> status -> incident A resolved -> status
# against the demo inventory (every provider, fake credentials, all on the sandbox), and show
# the calls the providers received. Sets up what is missing first (.venv, the collection).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup.sh runtime
collections="$(bash scripts/install-collection.sh)"
venv="$here/.venv/bin"

work="$(mktemp -d /tmp/ddos-demo.XXXXXX)"
port="$("$venv/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$venv/ddos-sandbox" serve --port "$port" --ready-file "$work/ready.json" > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$work/ready.json" ] && break; sleep 0.1; done
[ -f "$work/ready.json" ] || { cat "$work/sandbox.log"; echo "the sandbox did not start" >&2; exit 1; }

export DDOS_SANDBOX_URL="http://127.0.0.1:$port"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_PYTHON_INTERPRETER="$venv/python"
export ANSIBLE_LOCALHOST_WARNING=false
export PATH="$venv:$PATH"
play() {
  echo
  echo "================ ansible-playbook ddos.scrubbing.$1 ${2:-}"
  ansible-playbook "ddos.scrubbing.$1" -i demo/inventory -e "scrubbing_state_file=$work/ledger.json" ${2:+-e "$2"}
}

echo "Sandbox: $DDOS_SANDBOX_URL   ledger: $work/ledger.json"
play incident '{"incident": {"id": "demo-1", "status": "started", "workspace": "default", "target": "203.0.113.7", "source": "demo"}}'
play status
echo; echo "================ what the providers received so far (writes)"
ddos-sandbox --url "$DDOS_SANDBOX_URL" log --writes
play incident '{"incident": {"id": "demo-1", "status": "resolved", "workspace": "default"}}'
play status
echo; echo "================ every write the providers received"
ddos-sandbox --url "$DDOS_SANDBOX_URL" log --writes
echo; echo "Demo done. Rehearse more with: ddos-sandbox serve, and the playbooks in playbooks/ (see README)."
