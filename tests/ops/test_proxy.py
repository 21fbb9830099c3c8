"""The shipped nginx proxy (deploy/nginx/) in front of gunicorn, on loopback.

Debian's nginx runs the shipped files, rendered only for loopback (ephemeral ports, a temporary
directory, a throwaway self-signed certificate from deploy/tls/make-self-signed.sh), in front of
gunicorn started with gunicorn.conf.py and a real API key (bench/proxy_stack.py).
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.proxy_stack import (  # noqa: E402
    KEY,
    SlowClients,
    Stack,
    nginx_binary,
    probe,
    tls_context,
)
from service.api.errors import error_body  # noqa: E402

pytestmark = pytest.mark.skipif(
    nginx_binary() is None, reason="nginx is not installed (apt-get install -y nginx; .ci/run installs it)"
)

SECRET = "ZYXWDoeJane19471231"  # stands for patient data a client puts where it does not belong


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("proxy")) as running:
        yield running


def auth(content_type: str = "application/json") -> dict[str, str]:
    return {"Content-Type": content_type, "Authorization": f"Bearer {KEY}"}


# --- TLS --------------------------------------------------------------------------------------------


def test_the_service_answers_over_tls_with_hsts(stack):
    status, headers, body = stack.get(stack.https("/healthz"))
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert int(headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 180 * 24 * 3600
    assert headers["server"] == "nginx"  # no version


def test_an_interpretation_goes_through_with_a_key_and_is_refused_without(stack):
    assert stack.interpret(stack.https("/v1/interpretations")) == (200, "MGUS_NON_IGM")
    status, _, body = stack.request(
        "POST", stack.https("/v1/interpretations"), b"{}", {"Content-Type": "application/json"}
    )
    assert status == 401 and json.loads(body)["code"] == 401


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_accepted(stack, version):
    ctx = tls_context(stack.tls_dir)
    ctx.minimum_version = ctx.maximum_version = version

    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            assert tls.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_below_1_2_is_refused(stack):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ssl.SSLError, ValueError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.0/1.1")
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(raw).close()


def test_plain_http_refuses_v1_and_redirects_the_rest_to_https(stack):
    status, _, body = stack.request("POST", stack.http("/v1/interpretations"), b"{}", auth())
    assert status == 403
    assert json.loads(body)["message"].startswith("Plain HTTP is refused")
    status, headers, _ = stack.get(stack.http("/docs"))
    assert status == 301 and headers["location"].startswith("https://")
    # Probes and load balancers may check health over plain HTTP.
    assert stack.get(stack.http("/healthz"))[0] == 200


# --- limits -----------------------------------------------------------------------------------------


def test_a_single_request_over_the_service_limit_is_refused_by_the_proxy_with_the_standard_body(stack):
    from service.api import MAX_BODY_BYTES

    status, headers, body = stack.request(
        "POST", stack.https("/v1/interpretations"), b" " * (MAX_BODY_BYTES + 1), auth()
    )
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == error_body(413)


def test_a_single_request_at_the_service_limit_reaches_the_service(stack):
    from service.api import MAX_BODY_BYTES

    status, _, body = stack.request("POST", stack.https("/v1/interpretations"), b" " * MAX_BODY_BYTES, auth())
    assert status == 400 and json.loads(body)["message"].startswith("malformed JSON")  # the service's answer


def test_a_batch_above_the_single_limit_reaches_the_service_and_one_over_the_batch_limit_does_not(stack):
    from service.api.views import BATCH_MAX_BYTES

    for size in (300_000, BATCH_MAX_BYTES):
        status, _, body = stack.request(
            "POST", stack.https("/v1/interpretations/batch"), b" " * size, auth(), timeout=30
        )
        assert status == 400 and json.loads(body)["message"].startswith("malformed JSON"), size
    status, _, body = stack.request(
        "POST", stack.https("/v1/interpretations/batch"), b" " * (BATCH_MAX_BYTES + 1), auth(), timeout=30
    )
    assert status == 413 and json.loads(body) == error_body(413)


def test_the_proxy_logs_routes_never_request_lines(stack):
    stack.get(stack.https(f"/healthz?name={SECRET}"))
    stack.get(stack.https(f"/v1/patients/{SECRET}"))
    stack.get(stack.https("/healthz?" + SECRET * 300))  # over-long request line: nginx's own 414
    stack.request("POST", stack.https(f"/v1/interpretations?dob={SECRET}"), b" " * 300_000, auth())
    logs = "".join(p.read_text() for p in (stack.work / "nginx").glob("*.log"))
    logs += (stack.work / "nginx.log").read_text()
    assert "GET /healthz 200" in logs and "GET other 40" in logs
    assert SECRET not in logs


# --- the slow-client attack ---------------------------------------------------------------------------


def test_twenty_slow_clients_no_longer_block_healthz_or_interpretations(stack):
    # Through the proxy: 20 TLS sockets each send one header line a second (reopened when nginx
    # drops them after its 10 s header timeout) while a client checks /healthz and sends the §6
    # example every half second. Every probe is answered, fast.
    with SlowClients(stack.https_port, 20, tls_context(stack.tls_dir)) as attack:
        seen = probe(stack, stack.https(""), seconds=12, timeout=2.0)
    summary = seen.summary()
    assert attack.opened >= 20
    assert summary["healthz"]["sent"] >= 10
    for kind in ("healthz", "interpretations"):
        assert summary[kind]["answered_200"] == summary[kind]["sent"], summary
        assert summary[kind]["max_s"] < 1.5, summary
    # The same attack on gunicorn itself (2 sync workers), as a deployment without the proxy would
    # face it: the probes time out.
    with SlowClients(stack.gunicorn_port, 20):
        direct = probe(stack, stack.direct(""), seconds=5, timeout=2.0).summary()
    assert direct["healthz"]["answered_200"] < direct["healthz"]["sent"], direct
    # And once the attack stops, gunicorn serves again.
    assert stack.get(stack.https("/healthz"), timeout=10)[0] == 200
