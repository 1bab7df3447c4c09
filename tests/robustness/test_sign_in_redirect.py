"""Issue 21 item 11: the LAN sign-in redirect (``?token=`` traded for a cookie) never leaves the site."""

from __future__ import annotations

import http.client
from urllib.parse import urljoin, urlsplit

import pytest


@pytest.mark.parametrize("path", [
    "/%2F%2Fevil.example/", "//evil.example/", "/%2F%2F%2Fevil.example/", "/%5C%5Cevil.example/",
    "/%5Cevil.example/", "/%2F%5Cevil.example/", "/%09/evil.example/",
])
def test_the_sign_in_redirect_stays_on_this_server(server_factory, path: str) -> None:
    server = server_factory(load_model_at_start=False, host="0.0.0.0")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", f"{path}?token={server.config.token}&a=1")
    response = conn.getresponse()
    assert response.status == 302
    location = response.getheader("Location")
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    base = f"http://127.0.0.1:{server.port}{path}"
    # Wherever a browser resolves it, it is this server (backslashes count as slashes in browsers).
    assert urlsplit(urljoin(base, location.replace("\\", "/"))).netloc == f"127.0.0.1:{server.port}", location
    assert "token=" not in location and location.endswith("?a=1")
    conn.close()


def test_an_ordinary_path_keeps_its_name(server_factory) -> None:
    server = server_factory(load_model_at_start=False, host="0.0.0.0")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", f"/outputs/caf%C3%A9%20x.png?token={server.config.token}")
    response = conn.getresponse()
    assert response.status == 302 and response.getheader("Location") == "/outputs/caf%C3%A9%20x.png"
