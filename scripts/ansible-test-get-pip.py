"""Offline stand-in for the get-pip script ansible-test downloads for each sanity venv.

ansible-test fetches get-pip.py from a host these machines cannot reach and caches it as
~/.ansible/test/cache/get_pip_<version>.py. scripts/test.sh puts this file there: it
bootstraps pip with the standard library's ensurepip and then installs the pip version
ansible-test asked for from the package index.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
requested = [arg for arg in sys.argv[1:] if not arg.startswith("--no-")]
# ansible-test runs this with a cleaned environment, so pip would not see the machine's CA
# bundle (a TLS-intercepting proxy's root, for example): name it explicitly.
ca_bundle = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
if requested:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--cert", ca_bundle] + requested)
