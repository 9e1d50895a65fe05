"""Booking requests sent to a live server all at the same moment, as a busy front desk would."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def _post(url, token, payload, barrier):
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    barrier.wait()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, _body(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _body(error.read())


def _body(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"not_json": raw[:300].decode(errors="replace")}


def post_at_once(live_server, token, path, payloads) -> list[tuple[int, dict]]:
    """POST each payload to `path` from its own thread, released together; (status, body) each."""
    barrier = threading.Barrier(len(payloads))
    url = live_server.url + path
    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(lambda p: _post(url, token, p, barrier), payloads))


def post_bookings_at_once(live_server, token, payloads) -> list[tuple[int, dict]]:
    """POST each payload to /api/v1/appointments/ from its own thread, released together."""
    return post_at_once(live_server, token, "/api/v1/appointments/", payloads)
