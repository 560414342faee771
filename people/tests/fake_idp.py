"""A small OpenID Connect provider on 127.0.0.1, for the single sign-on tests: the identity provider is
the outside world, so the tests run a real one over HTTP, with the checks a real one makes.

Authorization code flow with PKCE (S256): /authorize hands out a one-time code bound to the client, the
redirect address, the nonce and the code challenge; /token checks all of them and the client secret and
answers an ID token signed with RS256 by a key it publishes at /jwks; /userinfo answers for a bearer
access token. Tests set `claims` (the person), `userinfo` (extra or conflicting userinfo claims), and
can make it misbehave: `signing_key` (sign with a key it does not publish), `audience`, `issuer`.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "incident-portal"
CLIENT_SECRET = "fake-idp-client-secret-for-tests-only"
KEY_ID = "fake-idp-key-1"


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeIdP:
    def __init__(self):
        self.key = _new_key()
        self.signing_key = self.key
        self.claims: dict = {}
        self.userinfo: dict = {}
        self.audience = CLIENT_ID
        self.issuer = None  # the provider's own URL unless a test changes it
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, str] = {}  # access token -> sub
        self.token_requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict:
        """What the portal's settings would hold for this provider."""
        return {
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/token",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_ISSUER": self.url,
        }

    # The endpoints' work -----------------------------------------------------------------------------

    def authorize(self, params: dict) -> tuple[int, dict, bytes]:
        if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code":
            return 400, {}, b"unknown client or response type"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return 400, {}, b"PKCE (S256) required"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": params["redirect_uri"],
            "nonce": params.get("nonce"),
            "challenge": params["code_challenge"],
            "claims": dict(self.claims),
        }
        location = f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params['state']})}"
        return 302, {"Location": location}, b""

    def token(self, form: dict) -> tuple[int, dict, bytes]:
        self.token_requests.append(form)
        grant = self.codes.pop(form.get("code", ""), None)  # one use only
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return _json(400, {"error": "invalid_grant"})
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return _json(400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"})
        now = int(time.time())
        claims = {
            "iss": self.issuer or self.url,
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["claims"],
        }
        id_token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": KEY_ID})
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = grant["claims"]["sub"]
        return _json(
            200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        )

    def jwks(self) -> tuple[int, dict, bytes]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return _json(200, {"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]})

    def user_info(self, authorization: str) -> tuple[int, dict, bytes]:
        sub = self.access_tokens.get(authorization.removeprefix("Bearer "))
        if sub is None:
            return _json(401, {"error": "invalid_token"})
        return _json(200, {"sub": sub, **self.userinfo})


def _json(status: int, body: dict) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _handler(idp: FakeIdP):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/authorize":
                self._answer(*idp.authorize(params))
            elif url.path == "/jwks":
                self._answer(*idp.jwks())
            elif url.path == "/userinfo":
                self._answer(*idp.user_info(self.headers.get("Authorization", "")))
            else:
                self._answer(404, {}, b"")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            if urlsplit(self.path).path == "/token":
                self._answer(*idp.token(form))
            else:
                self._answer(404, {}, b"")

        def _answer(self, status, headers, body):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet
            pass

    return Handler


def other_key():
    """A key the provider does not publish: tokens it signs must be refused."""
    return _new_key()
