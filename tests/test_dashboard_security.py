"""The dashboard refuses other sites and hostile requests (issue 15, item 3 and its edges).

In-process with FastAPI's TestClient on the bundled sample (``integration``: needs the
``[dashboard]`` extra). Each test names a request that got through before: a page of
another site resolved to 127.0.0.1 listed tables and saved edits, form posts were parsed,
200 MB bodies were read, ``offset=10**23`` or a deeply nested filter answered 500,
``/api/compare?runs=../..`` read a manifest outside the store, a symlink served a file
outside its image root, a COCO row could not be emptied.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.sample import sample_table
from tests.test_dashboard_api import RUN, TABLE, _base, _draft, _error, _import, _ok
from tests.test_readme import _run_posetable

pytestmark = pytest.mark.integration

PORT = 8765
TOKEN = "tok-" + "x" * 40
HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _app(store: Path, **options: Any) -> Any:
    from posetable.dashboard import create_app

    return create_app(store, thumbnail_dir=store.parent / "thumbs", **options)


def _client(store: Path, *, raise_errors: bool = True, **options: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(
        _app(store, **options),
        base_url=f"http://127.0.0.1:{PORT}",
        raise_server_exceptions=raise_errors,
    )


@pytest.fixture
def sample_store(store: Path) -> Path:
    """A store with the bundled sample and its run (as in ``test_dashboard_api``)."""
    from posetable.dashboard._sample_run import prepare_sample

    prepare_sample(store)
    return store


@pytest.fixture
def client(sample_store: Path) -> Iterator[Any]:
    """A client of the app served on 127.0.0.1:8765 (``port=8765``); it raises on a 500."""
    with _client(sample_store, port=PORT) as c:
        yield c


def _edit_body(client: Any, row: int = 0, *, dx: float = 3.5) -> dict[str, Any]:
    """A real edit of ``row``: its first keypoint moved by ``dx`` (a save that would succeed)."""
    draft = _draft(_ok(client.get(f"/api/tables/{TABLE}/rows/{row}")))
    x, y = draft[0]["keypoints"][0]
    draft[0]["keypoints"][0] = [x + dx, y]
    draft[0]["visibility"][0] = 2
    return {"base_revision": 1, "rows": {str(row): {"instances": draft}}}


def _revision(store: Path, name: str = TABLE) -> int:
    return pt.Table.open(name, store=store).revision


# -- DNS rebinding: the Host header ----------------------------------------------------------
FOREIGN_HOSTS = [
    "evil.example",
    f"evil.example:{PORT}",
    "127.0.0.1.nip.io",
    f"localhost.evil.example:{PORT}",
    "testserver",
    "127.0.0.2",
    "[::2]",
    "",
]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_requests_for_another_host_are_refused_with_403_naming_it(
    client: Any, sample_store: Path, host: str
) -> None:
    body = _edit_body(client)
    for method, path in (
        ("GET", "/"),
        ("GET", "/static/main.js"),
        ("GET", "/api/tables"),
        ("GET", f"/api/tables/{TABLE}/image/0"),
        ("GET", f"/api/tables/{TABLE}/file?path=000000000785.jpg"),
        ("POST", f"/api/tables/{TABLE}/edit"),
    ):
        response = client.request(
            method, path, headers={"Host": host}, json=body if method == "POST" else None
        )
        message = _error(response, 403, "HostNotAllowedError")
        assert (repr(host) if host else "no Host") in message
        assert "coco-sample" not in response.text
    assert _revision(sample_store) == 1  # the edit was not saved


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        f"127.0.0.1:{PORT}",
        "localhost",
        f"LOCALHOST:{PORT}",
        "[::1]",
        f"[::1]:{PORT}",
        f"[0:0:0:0:0:0:0:1]:{PORT}",
    ],
)
def test_loopback_hosts_with_or_without_the_served_port_are_served(client: Any, host: str) -> None:
    assert _ok(client.get("/api/tables", headers={"Host": host}))["tables"][0]["name"] == TABLE


def test_a_loopback_host_on_another_port_is_refused(client: Any) -> None:
    message = _error(
        client.get("/api/tables", headers={"Host": "127.0.0.1:9999"}), 403, "HostNotAllowedError"
    )
    assert "port 8765" in message


def test_the_host_the_server_was_started_for_is_served(sample_store: Path) -> None:
    with _client(sample_store, port=PORT, allowed_hosts=["Dash.LAN", "10.0.0.7"]) as c:
        for host in (f"dash.lan:{PORT}", "DASH.lan", f"10.0.0.7:{PORT}"):
            assert _ok(c.get("/api/tables", headers={"Host": host}))["tables"]
        _error(c.get("/api/tables", headers={"Host": "dash.lan.evil"}), 403, "HostNotAllowedError")


def test_access_settings_are_checked(sample_store: Path) -> None:
    from posetable.dashboard._security import AccessSettingsError

    for options, fragment in (
        ({"allowed_hosts": ["dash.lan:80"]}, "without a port"),
        ({"allowed_hosts": [""]}, "host names"),
        ({"port": 70000}, "port must be in [1, 65535]"),
        ({"max_body_bytes": 0}, "max_body_bytes must be a positive"),
        ({"token": "short"}, "at least 16"),
    ):
        with pytest.raises(AccessSettingsError, match=fragment.replace("[", r"\[")):
            _app(sample_store, **options)


# -- writes: Origin and Content-Type -------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": f"http://evil.example:{PORT}"},
        {"Origin": "null"},
        {"Origin": f"https://127.0.0.1:{PORT}"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "http://127.0.0.1"},
        {"Origin": f"http://localhost.evil.example:{PORT}"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_writes_from_another_origin_are_refused(
    client: Any, sample_store: Path, headers: dict[str, str]
) -> None:
    body = _edit_body(client)
    for path, payload in (
        (f"/api/tables/{TABLE}/edit", body),
        (f"/api/tables/{TABLE}/undo", {"base_revision": 1}),
        (f"/api/tables/{TABLE}/accept", {"base_revision": 1, "run": RUN, "rows": [0]}),
    ):
        response = client.post(path, json=payload, headers=headers)
        message = _error(response, 403, "OriginNotAllowedError")
        assert headers.get("Origin", "cross-site") in message
    assert _revision(sample_store) == 1


def test_writes_from_the_served_origin_are_saved(client: Any, sample_store: Path) -> None:
    body = _edit_body(client)
    saved = client.post(
        f"/api/tables/{TABLE}/edit", json=body, headers={"Origin": f"http://127.0.0.1:{PORT}"}
    )
    assert _ok(saved)["revision"] == 2 and _revision(sample_store) == 2


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_writes_that_are_not_json_are_refused_with_415(
    client: Any, sample_store: Path, content_type: str | None
) -> None:
    import orjson

    body = orjson.dumps(_edit_body(client))  # valid JSON text, as a form can smuggle it
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(f"/api/tables/{TABLE}/edit", content=body, headers=headers)
    message = _error(response, 415, "UnsupportedMediaTypeError")
    media = content_type.split(";")[0] if content_type else "no Content-Type"
    assert "application/json" in message and media in message
    assert _revision(sample_store) == 1


# -- the token beyond loopback -------------------------------------------------------------
def test_a_token_is_needed_for_every_request_when_bound_beyond_loopback(
    sample_store: Path,
) -> None:
    with _client(sample_store, port=PORT, token=TOKEN) as c:
        for path in ("/", "/static/main.js", "/api/tables", f"/api/tables/{TABLE}/image/0"):
            assert "?token=" in _error(c.get(path), 403, "TokenRequiredError")
        _error(c.get("/?token=" + "y" * 44), 403, "TokenRequiredError")
        _error(
            c.get("/api/tables", headers={"Authorization": "token nope"}), 403, "TokenRequiredError"
        )
        _error(
            c.get("/api/tables", headers={"Cookie": "posetable_token=" + TOKEN}),
            403,
            "TokenRequiredError",
        )  # the cookie of another port's dashboard
        first = c.get(f"/?token={TOKEN}")
        assert first.status_code == 200 and "<html" in first.text
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"posetable_token_{PORT}={TOKEN}")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        # the client sends the cookie from now on, as the browser does
        assert _ok(c.get("/api/tables"))["tables"][0]["name"] == TABLE
        assert "set-cookie" not in c.get("/api/tables").headers
    with _client(sample_store, port=PORT, token=TOKEN) as script:
        answer = script.get("/api/tables", headers={"Authorization": f"token {TOKEN}"})
        assert _ok(answer)["tables"] and "set-cookie" not in answer.headers
        # a right token never lets another host in
        rebinding = script.get(f"/?token={TOKEN}", headers={"Host": f"evil.example:{PORT}"})
        _error(rebinding, 403, "HostNotAllowedError")
        assert "set-cookie" not in rebinding.headers


def test_loopback_needs_no_token_and_other_interfaces_get_a_new_one_per_launch(
    sample_store: Path,
) -> None:
    from posetable.dashboard.server import prepare

    local = prepare(sample_store, host="127.0.0.1", port=0)
    try:
        assert local.token is None and "token" not in local.url
    finally:
        local.sock.close()
    tokens = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the dashboard binds", UserWarning)
        for _ in range(2):
            wide = prepare(sample_store, host="0.0.0.0", port=0)
            try:
                assert wide.token is not None and len(wide.token) >= 40
                assert wide.url == f"http://127.0.0.1:{wide.port}/?token={wide.token}"
                tokens.append(wide.token)
            finally:
                wide.sock.close()
    assert tokens[0] != tokens[1]


def test_serve_beyond_loopback_prints_the_token_url_and_its_check_uses_it(
    tmp_path: Path,
) -> None:
    done = _run_posetable(
        ["serve", "--sample", "--host", "0.0.0.0", "--port", "0", "--check"], tmp_path / "store"
    )
    assert done.returncode == 0, done.stderr
    assert "?token=" in done.stdout and "#/t/coco-sample" in done.stdout
    assert "dashboard check passed" in done.stdout
    assert "a request for another host was refused" in done.stdout


# -- headers -------------------------------------------------------------------------------
def test_every_response_forbids_framing_sniffing_and_referrers(client: Any) -> None:
    responses = [
        client.get("/"),
        client.get("/static/main.js"),
        client.get("/api/tables"),
        client.get(f"/api/tables/{TABLE}/thumbnail/0"),
        client.get(f"/api/tables/{TABLE}/image/0"),
        client.get("/api/nope"),  # 404
        client.get(f"/api/tables/{TABLE}/rows", params={"offset": -1}),  # 400
        client.get("/api/tables", headers={"Host": "evil.example"}),  # 403 by the middleware
        client.post(
            f"/api/tables/{TABLE}/edit", content=b"x", headers={"Content-Type": "text/plain"}
        ),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 404, 400, 403, 415]
    for response in responses:
        for key, value in HEADERS.items():
            assert response.headers.get(key) == value, (response.url, key)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy


# -- limits --------------------------------------------------------------------------------
def test_bodies_over_the_limit_are_refused_while_they_are_read(
    client: Any, sample_store: Path
) -> None:
    big = b'{"base_revision": 1, "rows": {}, "pad": "' + b"a" * (17 * 1024 * 1024) + b'"}'
    declared = client.post(
        f"/api/tables/{TABLE}/edit", content=big, headers={"Content-Type": "application/json"}
    )
    assert "16,777,216 bytes" in _error(declared, 413, "BodyTooLargeError")

    def chunks() -> Iterator[bytes]:  # no Content-Length: only reading can tell
        yield b'{"pad": "'
        for _ in range(18):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    streamed = client.post(
        f"/api/tables/{TABLE}/edit", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    _error(streamed, 413, "BodyTooLargeError")
    assert _revision(sample_store) == 1


def test_the_body_limit_is_configurable(client: Any, sample_store: Path) -> None:
    import orjson

    body = orjson.dumps(_edit_body(client))
    json_headers = {"Content-Type": "application/json"}
    with _client(sample_store, max_body_bytes=len(body) - 1) as c:
        response = c.post(f"/api/tables/{TABLE}/edit", content=body, headers=json_headers)
        assert f"{len(body) - 1:,} bytes" in _error(response, 413, "BodyTooLargeError")
        small = {"base_revision": 1, "rows": {"0": {"instances": []}}}
        assert _ok(c.post(f"/api/tables/{TABLE}/edit", json=small))["revision"] == 2


def test_a_saved_row_holds_at_most_10000_instances(client: Any, sample_store: Path) -> None:
    one = {"keypoints": [[10.0, 10.0]] * 17, "visibility": [0] * 17, "box": [0, 0, 1, 1]}
    body = {"base_revision": 1, "rows": {"0": {"instances": [one] * 10_001}}}
    message = _error(client.post(f"/api/tables/{TABLE}/edit", json=body), 400, "RowError")
    assert "row 0" in message and "at most 10,000 instances, got 10,001" in message
    assert _revision(sample_store) == 1


OUT_OF_RANGE = [
    ("revision", f"/api/tables/{TABLE}?revision=-1", "[1, "),
    ("revision", f"/api/tables/{TABLE}?revision=0", "[1, "),
    ("revision", f"/api/tables/{TABLE}?revision=99999999999999999999999", "[1, "),
    ("revision", f"/api/tables/{TABLE}@99999999999999999999999", "[1, "),
    ("revision", f"/api/tables/{TABLE}/rows?revision=9223372036854775808", "[1, "),
    ("offset", f"/api/tables/{TABLE}/rows?offset=-1", "[0, "),
    ("offset", f"/api/tables/{TABLE}/rows?offset=99999999999999999999999", "[0, "),
    ("offset", f"/api/tables/{TABLE}/rows?offset=99999999999999999999&sort=image_id", "[0, "),
    ("limit", f"/api/tables/{TABLE}/rows?limit=0", "[1, 500]"),
    ("limit", f"/api/tables/{TABLE}/rows?limit=99999999999999999999999", "[1, 500]"),
    ("row", f"/api/tables/{TABLE}/rows/-1", "[0, "),
    ("row", f"/api/tables/{TABLE}/rows/99999999999999999999999", "[0, "),
    ("position", f"/api/tables/{TABLE}/rows/0?position=-5", "[0, "),
    ("position", f"/api/tables/{TABLE}/rows/0?position=99999999999999999999", "[0, "),
    ("size", f"/api/tables/{TABLE}/thumbnail/0?size=-5", "[32, 1024]"),
    ("size", f"/api/tables/{TABLE}/thumbnail/0?size=99999999999999999999", "[32, 1024]"),
    ("row", f"/api/tables/{TABLE}/thumbnail/-1", "[0, "),
    ("row", f"/api/tables/{TABLE}/image/99999999999999999999", "[0, "),
    ("row", f"/api/tables/{TABLE}/new_instance/-1", "[0, "),
    ("revision", f"/api/tables/{TABLE}/file?path=a.jpg&revision=-3", "[1, "),
]


@pytest.mark.parametrize(("name", "url", "allowed"), OUT_OF_RANGE)
def test_integer_parameters_out_of_range_get_400_naming_the_range(
    client: Any, name: str, url: str, allowed: str
) -> None:
    message = _error(client.get(url), 400, "QueryError")
    assert message.startswith(f"{name} must be an integer in {allowed}"), message


@pytest.mark.parametrize(
    "params",
    [{"x": "nan", "y": 1}, {"x": 1, "y": "inf"}, {"x": "-inf", "y": 1}, {"size": "1e999"}],
)
def test_nan_and_inf_in_url_parameters_get_400(client: Any, params: dict[str, Any]) -> None:
    response = client.get(f"/api/tables/{TABLE}/new_instance/0", params=params)
    assert "must be a finite number" in _error(response, 400, "QueryError")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_nan_and_inf_in_json_bodies_get_400(client: Any, sample_store: Path, number: str) -> None:
    for path, template in (
        (f"/api/tables/{TABLE}/edit", '{"base_revision": %s, "rows": {}}'),
        (f"/api/tables/{TABLE}/undo", '{"base_revision": %s}'),
        (
            f"/api/tables/{TABLE}/accept",
            '{"base_revision": 1, "run": "' + RUN + '", "keypoint_confidence_threshold": %s}',
        ),
        (
            f"/api/tables/{TABLE}/edit",
            '{"base_revision": 1, "rows": {"0": {"instances": [{"keypoints": [[%s, 1]]}]}}}',
        ),
    ):
        response = client.post(
            path, content=template % number, headers={"Content-Type": "application/json"}
        )
        assert "not valid JSON" in _error(response, 400, "BadRequestBodyError")
    assert _revision(sample_store) == 1


def test_filter_nesting_and_length_are_bounded(client: Any) -> None:
    from posetable.dashboard._query import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH

    rows = lambda text: client.get(f"/api/tables/{TABLE}/rows", params={"filter": text})  # noqa: E731
    depth = MAX_FILTER_DEPTH
    assert _ok(rows("(" * depth + "image_id > 1" + ")" * depth))["total"] == 4
    assert _ok(rows("not " * depth + "image_id > 1"))["total"] == 4  # an even count
    for text in (
        "(" * (depth + 1) + "image_id > 1" + ")" * (depth + 1),
        "not " * (depth + 1) + "image_id > 1",
        "(" * 900 + "image_id > 1" + ")" * 900,
        "not (" * 400 + "image_id > 1" + ")" * 400,
    ):
        assert f"deeper than {depth} levels" in _error(rows(text), 400, "QueryError")
    repeats = MAX_FILTER_LENGTH // len("image_id > 1 or ") + 1
    assert f"at most {MAX_FILTER_LENGTH} characters" in _error(
        rows("image_id > 1 or " * repeats + "image_id > 1"), 400, "QueryError"
    )
    assert "not finite" in _error(rows("image_id > 1e999"), 400, "QueryError")


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_json_bodies_get_400(client: Any, depth: int) -> None:
    body = '{"base_revision": 1, "rows": ' + "[" * depth + "]" * depth + "}"
    response = client.post(
        f"/api/tables/{TABLE}/edit", content=body, headers={"Content-Type": "application/json"}
    )
    message = _error(response, 400, "BadRequestBodyError")
    assert "deeper than 32 levels" in message or "depth limit" in message


# -- paths and names -----------------------------------------------------------------------
@pytest.fixture
def linked_store(store: Path, tmp_path: Path) -> Path:
    """A table over an image root holding a real image, a link inside and a link out."""
    sample = sample_table(store=store)
    source_root = Path(sample.metadata["image_roots"][0])
    root = tmp_path / "images"
    outside = tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    shutil.copy(source_root / "000000000785.jpg", root / "a.jpg")
    shutil.copy(source_root / "000000040083.jpg", outside / "secret.jpg")
    (root / "inside.jpg").symlink_to(root / "a.jpg")
    (root / "out.jpg").symlink_to(outside / "secret.jpg")
    (root / "sub").symlink_to(outside, target_is_directory=True)
    rows = []
    for name in ("a.jpg", "inside.jpg", "out.jpg", "sub/secret.jpg"):
        row = _base(sample[0])
        row["image"] = str(root / name)
        rows.append(row)
    pt.Table.from_rows(
        rows,
        name="linked",
        schema=sample.schema,
        store=store,
        metadata={"image_roots": [str(root)]},
    )
    return store


def test_a_symlink_out_of_an_image_root_is_refused(linked_store: Path, tmp_path: Path) -> None:
    secret = (tmp_path / "private" / "secret.jpg").read_bytes()
    with _client(linked_store) as c:
        for response in (
            c.get("/api/tables/linked/file", params={"path": "out.jpg"}),
            c.get("/api/tables/linked/file", params={"path": "sub/secret.jpg"}),
            c.get("/api/tables/linked/file", params={"path": str(tmp_path / "images/out.jpg")}),
            c.get("/api/tables/linked/images/out.jpg"),
            c.get("/api/tables/linked/images/sub/secret.jpg"),
        ):
            message = _error(response, 403, "ForbiddenPathError")
            assert "outside the image roots" in message and "symbolic link" in message
            assert secret not in response.content
        for row in (2, 3):  # the table's own rows point at the links: a placeholder, no file
            for kind in ("image", "thumbnail"):
                shown = c.get(f"/api/tables/linked/{kind}/{row}")
                assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
                assert "outside the image roots" in shown.headers["X-Posetable-Placeholder"]
                assert secret not in shown.content
        inside = c.get("/api/tables/linked/file", params={"path": "inside.jpg"})
        assert inside.status_code == 200
        assert inside.content == (tmp_path / "images" / "a.jpg").read_bytes()
        assert _ok(c.get("/api/tables/linked/rows/1"))["row"] == 1


def test_run_and_table_names_are_checked_before_any_file_is_read(
    client: Any, sample_store: Path
) -> None:
    # a manifest where runs/.. and runs/../.. lead: outside the runs folder and the store
    manifest = sample_store / "runs" / RUN / "manifest.json"
    shutil.copy(manifest, sample_store / "manifest.json")
    shutil.copy(manifest, sample_store.parent / "manifest.json")
    for bad in ("..", "../..", "../../..", ".hidden", "a/../b", "a//b"):
        for response in (
            client.get("/api/compare", params={"runs": bad}),
            client.get("/api/compare", params={"runs": f"{RUN},{bad}"}),
            client.get(f"/api/tables/{TABLE}/rows", params={"run": bad}),
            client.get(f"/api/tables/{TABLE}/rows/0", params={"run": bad}),
            client.get(f"/api/tables/{TABLE}", params={"run": bad}),
            client.post(
                f"/api/tables/{TABLE}/accept",
                json={"base_revision": 1, "run": bad, "rows": [0], "dry_run": True},
            ),
        ):
            message = _error(response, 400, "RevisionError")
            assert "run name" in message and (
                "start with '.'" in message or "empty part" in message
            )
    # run names are path-like too (project/run/val-epoch-0001): a valid name that is not a run
    _error(client.get("/api/compare", params={"runs": "a/b"}), 404, "NotFoundError")
    # table names are path-like (project/dataset/table), but no part may start with '.'
    for bad_table in ("..", "../..", "../../..", ".hidden", "a/../b"):
        message = _error(client.get("/api/runs", params={"table": bad_table}), 400, "RevisionError")
        assert "may not start with '.'" in message
    for bad_table in (".hidden", ".staging", "a:b"):
        _error(client.get(f"/api/tables/{bad_table}/rows"), 400, "RevisionError")
    assert client.get("/api/runs/..%2F..").status_code in (400, 404)  # refused, never read


# -- the edit API's input checks -------------------------------------------------------------
def test_visible_keypoints_far_outside_the_image_are_refused(
    client: Any, sample_store: Path
) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    width, height = table[0]["width"], table[0]["height"]
    names = table.schema.keypoint_names
    for point, j in (
        ([3 * width, 10.0], 4),
        ([10.0, -1.5 * height], 0),
        ([-width - 1, 5.0], 16),
    ):
        body = _edit_body(client)
        draft = body["rows"]["0"]["instances"]
        draft[0]["keypoints"][j] = point
        draft[0]["visibility"][j] = 2
        draft[0].pop("box")
        message = _error(client.post(f"/api/tables/{TABLE}/edit", json=body), 400, "RowError")
        assert f"row 0, instance 0, keypoint {j} ({names[j]})" in message
        assert f"x={point[0]:g}, y={point[1]:g}" in message and f"{width:g} x {height:g}" in message
    assert _revision(sample_store) == 1
    # a point off the image by less than its size, or far off but not visible, is kept
    body = _edit_body(client)
    draft = body["rows"]["0"]["instances"]
    draft[0]["keypoints"][3] = [width + 20.0, height + 20.0]
    draft[0]["visibility"][3] = 2
    draft[0]["keypoints"][5] = [5 * width, 5 * height]
    draft[0]["visibility"][5] = 1
    draft[0].pop("box")
    _ok(client.post(f"/api/tables/{TABLE}/edit", json=body))
    saved = pt.Table.open(TABLE, store=sample_store)[0]["keypoints"].keypoints[0]
    assert saved[3].tolist() == [width + 20.0, height + 20.0]


def test_a_stored_outlier_does_not_block_saving_its_row(client: Any, sample_store: Path) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    width = table[0]["width"]
    row = table[0]["keypoints"]
    row.keypoints[0, 0] = [4 * width, 10.0]  # imported far outside, visible
    row.keypoint_visibilities[0, 0] = 2
    outlier = table.with_rows({0: {"keypoints": row}})
    body = _edit_body(client)
    body["base_revision"] = outlier.revision
    draft = body["rows"]["0"]["instances"]
    draft[0]["keypoints"][0] = [4 * width, 10.0]  # unchanged from what is stored
    draft[-1]["keypoints"][1] = [11.0, 12.0]  # the real change, elsewhere
    draft[-1]["visibility"][1] = 2
    for item in draft:
        item.pop("box")
    assert (
        _ok(client.post(f"/api/tables/{TABLE}/edit", json=body))["revision"] == outlier.revision + 1
    )


def test_a_row_of_a_coco_table_can_be_set_to_zero_instances(store: Path, real_data: Any) -> None:
    table = _import(real_data("coco_kpts"), "coco", store)
    assert len(table[0]["keypoints"]) > 0
    # the library itself: one row, no instances, with COCO's extra fields in the schema
    empty = pt.Keypoints2DInstances.create_empty(
        image_width=table[0]["width"], image_height=table[0]["height"], num_keypoints=17
    )
    direct = table.with_rows({1: {"keypoints": empty}})
    assert len(direct[1]["keypoints"]) == 0 and len(direct[0]["keypoints"]) > 0
    # the edit API
    with _client(store) as c:
        saved = c.post(
            "/api/tables/coco/edit",
            json={"base_revision": direct.revision, "rows": {"0": {"instances": []}}},
        )
        assert _ok(saved)["revision"] == direct.revision + 1
        assert _ok(c.get("/api/tables/coco/rows/0"))["gt"]["count"] == 0
    latest = pt.Table.open("coco", store=store)
    assert len(latest[0]["keypoints"]) == 0 and len(latest[1]["keypoints"]) == 0
    assert [len(r["keypoints"]) for r in latest][2:] == [len(r["keypoints"]) for r in table][2:]


# -- error mapping ---------------------------------------------------------------------------
HOSTILE_GETS = [
    f"/api/tables/{TABLE}/rows?sort=nope",
    f"/api/tables/{TABLE}/rows?filter=nope>1",
    f"/api/tables/{TABLE}/rows?filter=image_id = 'a'",
    f"/api/tables/{TABLE}/rows?filter=width > 'x'",
    f"/api/tables/{TABLE}/rows?filter=image = 1",
    f"/api/tables/{TABLE}/rows?filter=((image_id > 1",
    f"/api/tables/{TABLE}/rows?filter=image_id > ",
    f"/api/tables/{TABLE}/rows?filter=image_id >> 1",
    f"/api/tables/{TABLE}/rows?filter=image_id > 99999999999999999999999999",
    f"/api/tables/{TABLE}/rows?filter=mean_oks > 0.5",
    f"/api/tables/{TABLE}/rows?filter=%00",
    f"/api/tables/{TABLE}/rows?order=sideways",
    f"/api/tables/{TABLE}/rows?limit=x",
    f"/api/tables/{TABLE}/rows?offset=1.5",
    f"/api/tables/{TABLE}/rows?revision=" + "9" * 5000,
    f"/api/tables/{TABLE}/rows?run=nope",
    f"/api/tables/{TABLE}/rows/0?position=3&sort=nope",
    f"/api/tables/{TABLE}/rows/x",
    f"/api/tables/{TABLE}@x",
    f"/api/tables/{TABLE}@-1",
    f"/api/tables/{TABLE}?revision=5",
    f"/api/tables/{TABLE}/thumbnail/0?size=abc",
    f"/api/tables/{TABLE}/new_instance/0?size=-1",
    f"/api/tables/{TABLE}/new_instance/0?size=0",
    f"/api/tables/{TABLE}/file?path=",
    f"/api/tables/{TABLE}/file?path=%00",
    f"/api/tables/{TABLE}/file?path=/etc/passwd",
    f"/api/tables/{TABLE}/images/%2e%2e/%2e%2e/etc/passwd",
    f"/api/tables/{TABLE}/file?path=missing.jpg",
    "/api/tables/nope/rows",
    "/api/runs/nope",
    "/api/compare",
    "/api/compare?runs=nope",
    "/api/compare?runs=" + ",".join(["a"] * 40),
]


@pytest.mark.parametrize("url", HOSTILE_GETS)
def test_hostile_queries_get_a_4xx_json_error_never_a_500(client: Any, url: str) -> None:
    response = client.get(url)  # the client raises if the app failed
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "type"} and body["error"]


HOSTILE_BODIES = [
    "{",
    "[1, 2]",
    '"text"',
    "null",
    "123",
    "\xff\xfe",
    '{"base_revision": "1", "rows": {}}',
    '{"base_revision": true, "rows": {}}',
    '{"base_revision": 1.5, "rows": {}}',
    '{"base_revision": 99999999999999999999999, "rows": {}}',
    '{"base_revision": 1, "rows": [1]}',
    '{"base_revision": 1, "rows": {"x": {"instances": []}}}',
    '{"base_revision": 1, "rows": {"99999999999999999999": {"instances": []}}}',
    '{"base_revision": 1, "rows": {"-1": {"instances": []}}}',
    '{"base_revision": 1, "rows": {"0": {"instances": "x"}}}',
    '{"base_revision": 1, "rows": {"0": {"instances": [1]}}}',
    '{"base_revision": 1, "rows": {"0": {"instances": [{}]}}}',
    '{"base_revision": 1, "rows": {"0": {"instances": [{"keypoints": "x"}]}}}',
    '{"base_revision": 1, "rows": {"0": {"instances": [{"keypoints": [[1, 2]], '
    '"visibility": [2]}]}}}',
    '{"base_revision": 1, "rows": {"0": {"instances": [{"keypoints": [[1e308, 1e308]], '
    '"visibility": [2]}]}}}',
    '{"base_revision": 1, "rows": {"0": {"not_instances": []}}}',
    '{"base_revision": 1, "rows": {"0": null}}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_bodies_get_a_4xx_json_error_never_a_500(
    client: Any, sample_store: Path, body: str
) -> None:
    for endpoint in ("edit", "undo", "accept"):
        response = client.post(
            f"/api/tables/{TABLE}/{endpoint}",
            content=body.encode("latin-1"),
            headers={"Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (endpoint, response.status_code, response.text)
        assert set(response.json()) == {"error", "type"}
    assert _revision(sample_store) == 1


def test_an_unexpected_exception_is_a_json_500_without_a_traceback(sample_store: Path) -> None:
    from fastapi.testclient import TestClient

    app = _app(sample_store)

    def broken() -> None:
        raise RuntimeError("internal detail /secret/path")

    app.add_api_route("/api/broken", broken)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        response = c.get("/api/broken")
    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "InternalError" and "RuntimeError" in body["error"]
    assert "/secret/path" not in response.text and "Traceback" not in response.text
    for key, value in HEADERS.items():
        assert response.headers.get(key) == value


def test_a_conflict_is_a_409_with_its_message(client: Any) -> None:
    stale = _edit_body(client)
    _ok(client.post(f"/api/tables/{TABLE}/edit", json=_edit_body(client, dx=1.0)))
    message = _error(client.post(f"/api/tables/{TABLE}/edit", json=stale), 409, "ConflictError")
    assert "revision 1" in message


def test_instances_from_the_edit_api_match_the_library(client: Any, sample_store: Path) -> None:
    """The checks above refuse only what is wrong: a full round trip of a row is unchanged."""
    body = _edit_body(client, dx=0.25)
    _ok(client.post(f"/api/tables/{TABLE}/edit", json=body))
    before = pt.Table.open(f"{TABLE}@1", store=sample_store)[0]["keypoints"]
    after = pt.Table.open(TABLE, store=sample_store)[0]["keypoints"]
    moved = after.keypoints - before.keypoints
    assert moved[0, 0].tolist() == [0.25, 0.0] and np.count_nonzero(moved) == 1
