"""A small HTTP client for the benchmark: the standard library's http.client, one connection per thread,
a cookie jar, and the headers a TLS-terminating proxy adds in front of gunicorn (X-Forwarded-Proto and
-For), which is how production runs the portal (SECURE_PROXY_SSL_HEADER, TRUSTED_PROXY_COUNT=1).

gunicorn's sync workers close the connection after each response, so most requests open a new TCP
connection, as a browser behind such a proxy would not; the cost is the same for the floor and the pages.
"""

import http.client
import re
import time
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

HOST = "127.0.0.1"
CLIENT_ADDRESS = "203.0.113.7"  # what the proxy would put in X-Forwarded-For
TIMEOUT = 120
# What a request can fail with: a dropped connection (a worker killed at its timeout), a garbled response.
FAILURES = (OSError, http.client.HTTPException)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """One connection to the server and the cookies of one browser."""

    def __init__(self, port: int, cookies: dict | None = None):
        self.port = port
        self.origin = f"https://{HOST}:{port}"
        self.cookies = dict(cookies or {})
        self._connection = None

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        headers = {
            "Host": f"{HOST}:{self.port}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": CLIENT_ADDRESS,
            "User-Agent": "portal-bench",
            "Accept": "text/html,application/xhtml+xml,*/*",
            **(headers or {}),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if self._connection is None:
            self._connection = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT)
        started = time.perf_counter()
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
        except FAILURES:  # the caller counts it; the next request reconnects
            self.close()
            raise
        seconds = time.perf_counter() - started
        if response.will_close:
            self.close()
        self._store_cookies(response.headers)
        return Response(response.status, response.headers, data, seconds)

    def _store_cookies(self, headers):
        for header in headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if name == "messages":
                    # Flash messages a browser would show on the page it is redirected to (and so clear);
                    # kept, they would pile up in the cookie over thousands of POSTs.
                    continue
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, data: dict | list, referer: str | None = None) -> Response:
        return self.request(
            "POST",
            path,
            body=urlencode(data, doseq=True).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                # A browser's same-origin POST: Django's CSRF check compares these with the host.
                "Origin": self.origin,
                "Referer": self.origin + (referer or path),
            },
        )


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if match is None:
        raise RuntimeError("No CSRF token in the form")
    return match.group(1)


def sign_in(port: int, username: str, password: str, totp_key: str | None = None) -> dict:
    """Sign in through /accounts/login/ as a browser does (GET the form, POST it with its CSRF token),
    then, given the key of the person's authenticator app, pass the second factor; returns the
    session's cookies."""
    client = Client(port)
    form = client.get("/accounts/login/")
    response = client.post_form(
        "/accounts/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf_token(form.text), "next": "/"},
    )
    if response.status != 302 or "sessionid" not in client.cookies:
        client.close()
        raise RuntimeError(f"Signing in as {username} failed: {response.status} {response.text[:300]}")
    if totp_key is not None:
        from django_otp.oath import totp

        path = "/account/two-factor/verify/"
        form = client.get(path)
        code = f"{totp(bytes.fromhex(totp_key)):06d}"
        response = client.post_form(path, {"code": code, "csrfmiddlewaretoken": csrf_token(form.text), "next": "/"})
        if response.status != 302:
            client.close()
            raise RuntimeError(f"The second factor for {username} failed: {response.status} {response.text[:300]}")
    client.close()
    return client.cookies


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (href, rel, text)
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            attrs = dict(attrs)
            self._open = [attrs.get("href") or "", attrs.get("rel") or "", ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.links.append(tuple(self._open))
            self._open = None


def links(html: str, base: str) -> list[tuple[str, str, str]]:
    """The page's links as (absolute path with query, rel, text)."""
    parser = _Links()
    parser.feed(html)
    result = []
    for href, rel, text in parser.links:
        url = urlsplit(urljoin(base, unescape(href)))
        result.append((url.path + (f"?{url.query}" if url.query else ""), rel, " ".join(text.split())))
    return result


def next_link(html: str, base: str) -> str | None:
    """The page's link to the next (older) page: rel="next", or a link whose text says Next or Older."""
    found = links(html, base)
    for href, rel, _ in found:
        if "next" in rel.split():
            return href
    for href, _, text in found:
        if text.lower().startswith(("next", "older")):
            return href
    return None
