"""``synthetic-org serve``'s hostile-answer switches (issue #27), as anyone reproduces them from
the command line, and its one-line failure on an address it cannot bind."""

from __future__ import annotations

import subprocess

from tests.helpers import BIN, serve_org


def test_given_an_address_it_cannot_bind_when_serving_then_one_line_and_exit_1() -> None:
    done = subprocess.run(
        [str(BIN / "synthetic-org"), "serve", "--host", "192.0.2.1", "--scale", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "synthetic-org: cannot listen on 192.0.2.1:0: Cannot assign requested address"
    ]


def test_given_repeated_locator_and_wrong_type_switches_then_query_pages_misbehave() -> None:
    flags = ("--fault-repeated-locator", "Account", "--fault-wrong-type", "totalSize")
    with serve_org(*flags, "--wrong-type-objects", "Contact") as (api, http, auth):
        first = http.get(f"{api}/query", params={"q": "SELECT Id FROM Account"}, headers=auth)
        page = first.json()
        assert page["done"] is False
        again = http.get(
            f"{api[: -len('/services/data/v62.0')]}{page['nextRecordsUrl']}", headers=auth
        )
        assert again.json()["nextRecordsUrl"] == page["nextRecordsUrl"]
        assert again.json()["records"] == page["records"]
        contacts = http.get(f"{api}/query", params={"q": "SELECT Id FROM Contact"}, headers=auth)
        assert isinstance(contacts.json()["totalSize"], str)
        assert isinstance(page["totalSize"], int), "only the objects named are spoiled"


def test_given_gzip_bomb_and_slow_body_switches_then_answers_are_hostile() -> None:
    flags = ("--fault-gzip-bomb", r"FROM\+Account", "--fault-slow-body", r"FROM\+Contact")
    with serve_org(*flags, "--slow-body-seconds", "0.5") as (api, http, auth):
        bomb = http.get(
            f"{api}/query", params={"q": "SELECT Id FROM Account"}, headers=auth, stream=True
        )
        assert bomb.headers["Content-Encoding"] == "gzip"
        assert int(bomb.headers["Content-Length"]) < 8 * 1024 * 1024  # ~6 MB on the wire
        assert len(bomb.raw.read(1024 * 1024, decode_content=True)) == 1024 * 1024
        bomb.close()
        slow = http.get(
            f"{api}/query", params={"q": "SELECT Id FROM Contact"}, headers=auth, stream=True
        )
        assert slow.status_code == 200
        assert len(slow.raw.read(1)) == 1  # a byte comes; the rest trickles
        slow.close()
        normal = http.get(f"{api}/query", params={"q": "SELECT Id FROM Lead"}, headers=auth)
        assert "Content-Encoding" not in normal.headers, "other answers stay as they were"
        assert normal.json()["done"] is True
