"""A real OpenID Connect provider for the single sign-on tests: node runs the certified ``oidc-provider`` package
with our configuration, tests/oidc_provider.mjs (its clients, people, one-time code and clock are described
there), on a free port of 127.0.0.1. ``ProviderBrowser`` is a person's browser at that provider: it follows its
redirects and fills in its sign-in form with ``requests``, and hands back where the provider sends them home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Optional
from urllib.parse import urljoin, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "oidc_provider.mjs"
SECRET = "provider-test-secret-not-for-production"
PASSWORD = "provider-password"
ONE_TIME_CODE = "246810"
MFA_ACR = "urn:test:acr:mfa"
CLIENT_ID = "accreditation"
#: A registration at the provider whose ID tokens name another audience (see tests/oidc_provider.mjs).
MISREGISTERED_CLIENT_ID = "accreditation-misregistered"
#: Where the provider sends a person back to, on any port of 127.0.0.1 (the test client uses no port).
CALLBACK = "http://127.0.0.1/login/sso/callback"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen
    log: Path  # what node wrote to stderr: warnings, and the provider's server errors

    def errors(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def settings(self, client_id: str = CLIENT_ID) -> dict[str, str]:
        """The application's settings for single sign-on through this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": client_id,
            "OIDC_CLIENT_SECRET": SECRET,
            "OIDC_MFA_ACR": MFA_ACR,
        }


def start_provider(clock_offset: int = 0) -> Provider:
    """Start the provider and wait until it answers (its first line of output names its issuer)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the single sign-on tests run oidc-provider with it", pytrace=False)
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").is_file():
        pytest.fail("oidc-provider is not installed in node_modules: run `bash scripts/assets.sh`", pytrace=False)
    env = {**os.environ, "OIDC_TEST_SECRET": SECRET, "OIDC_TEST_CLOCK_OFFSET": str(clock_offset)}
    log = Path(tempfile.mkstemp(prefix="oidc-provider-", suffix=".log")[1])
    with log.open("w") as errors:
        process = subprocess.Popen(
            [node, str(SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if not first or not first[0].strip():
        process.kill()
        process.wait(timeout=10)
        pytest.fail(f"oidc-provider did not start (node {SCRIPT.name}): {log.read_text()[-2000:]}", pytrace=False)
    return Provider(json.loads(first[0])["issuer"], process, log)


def stop_provider(provider: Provider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        provider.process.kill()
        provider.process.wait(timeout=10)
    provider.process.stdout.close()
    provider.log.unlink(missing_ok=True)


class _Forms(HTMLParser):
    """The forms of a page: action and the named fields' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append({"action": found.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and found.get("name"):
            self.forms[-1]["fields"][found["name"]] = found.get("value") or ""


class ProviderBrowser:
    """A person's browser at the provider (its cookies kept), following redirects until they lead off it."""

    def __init__(self, provider: Provider):
        self.provider = provider
        self.issuer = provider.issuer
        self.http = requests.Session()

    def _follow(self, response: requests.Response) -> requests.Response | str:
        """Redirects on the provider; the first one that leaves it is returned as the address it names."""
        while response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if not target.startswith(self.issuer + "/"):
                return target
            response = self.http.get(target, allow_redirects=False, timeout=10)
        return response

    def open(self, authorization_url: str) -> requests.Response | str:
        """Go to the provider's authorization endpoint: its sign-in form, or (signed in there) straight back."""
        return self._follow(self.http.get(authorization_url, allow_redirects=False, timeout=10))

    def sign_in(
        self, authorization_url: str, email: str, password: str = PASSWORD, code: str = "", action: str = "login"
    ) -> str:
        """Sign in at the provider (``code``: the one-time code, for a multi-factor sign-in) and return the
        address it sends the browser back to (the application's callback, with code and state, or an error)."""
        page = self.open(authorization_url)
        assert isinstance(page, requests.Response) and page.status_code == 200, (page, self.provider.errors())
        parser = _Forms()
        parser.feed(page.text)
        assert parser.forms, page.text[:1000]
        form = parser.forms[0]
        target = urljoin(page.url, form["action"])
        if action != "login":
            target = target.rsplit("/", 1)[0] + "/" + action
        response = self.http.post(
            target, data={"login": email, "password": password, "code": code}, allow_redirects=False, timeout=10
        )
        back = self._follow(response)
        assert isinstance(back, str), (back.status_code, self.provider.errors())
        return back


def path_of(url: str) -> str:
    """The path and query of an address, for Flask's test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def location(response) -> Optional[str]:  # noqa: ANN001
    return response.headers.get("Location")
