"""UI sign-in, CSRF on forms, security headers."""

from __future__ import annotations

from conftest import CSRF_FIELD, Ui

from collector.appkeys import STORAGE
from collector.users import create_user


async def test_a_logged_out_visitor_is_sent_to_login(api):
    for path in ("/", "/definitions", "/events?event=x", "/keys"):
        response = await api.client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/login?next=/")


async def test_login_logout_and_security_headers(api):
    await create_user(api.app[STORAGE], "ops@example.com", "correct horse")
    ui = Ui(api.client)
    wrong = await ui.login("ops@example.com", "wrong horse")
    assert wrong.status == 401
    assert "do not match" in await wrong.text()
    response = await ui.login("OPS@example.com", "correct horse")
    assert response.status == 302 and response.headers["Location"] == "/"
    cookie = response.cookies["ek_ui"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    page = await ui.get("/")
    assert page.status == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    out = await ui.post("/logout", {}, allow_redirects=False)
    assert out.status == 302 and out.headers["Location"] == "/login"
    after = await api.client.get("/", allow_redirects=False)
    assert after.status == 302


async def test_forms_without_their_csrf_token_are_refused(ui, api):
    response = await api.client.post("/logout", data={}, allow_redirects=False)
    assert response.status == 403
    response = await api.client.post("/logout", data={"csrf": "forged"}, allow_redirects=False)
    assert response.status == 403
    assert (await api.client.get("/", allow_redirects=False)).status == 200  # still signed in


async def test_the_login_form_needs_its_own_csrf_token(api):
    await create_user(api.app[STORAGE], "ops@example.com", "correct horse")
    await api.client.get("/login")
    response = await api.client.post(
        "/login",
        data={"email": "ops@example.com", "password": "correct horse"},
        allow_redirects=False,
    )
    assert response.status == 403


async def test_a_tampered_ui_session_is_signed_out(ui, api):
    jar = api.client.session.cookie_jar
    [cookie] = [c for c in jar if c.key == "ek_ui"]
    forged = cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB")
    jar.clear()
    response = await api.client.get(
        "/", headers={"Cookie": f"ek_ui={forged}"}, allow_redirects=False
    )
    assert response.status == 302


async def test_login_only_redirects_to_local_paths(api):
    await create_user(api.app[STORAGE], "ops@example.com", "correct horse")
    page = await (await api.client.get("/login?next=//evil.example/x")).text()
    token = CSRF_FIELD.search(page).group(1)
    response = await api.client.post(
        "/login",
        data={
            "email": "ops@example.com",
            "password": "correct horse",
            "csrf": token,
            "next": "https://evil.example/",
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/"


async def test_unknown_ui_pages_answer_html_and_api_paths_json(ui, api):
    page = await api.client.get("/no-such-page")
    assert page.status == 404 and page.content_type == "text/html"
    assert "nothing at this address" in await page.text()
    machine = await api.get("/api/v1/no-such-thing")
    assert machine.status == 404 and (await machine.json())["error"]["code"] == "not_found"


async def test_error_pages_keep_the_layout_and_security_headers(ui, api):
    page = await api.client.get("/no-such-page")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert 'aria-label="Main"' in await page.text()  # the navigation of a signed-in user


async def test_a_second_login_page_load_keeps_the_first_forms_token(api):
    await create_user(api.app[STORAGE], "ops@example.com", "correct horse")
    page = await (await api.client.get("/login")).text()
    token = CSRF_FIELD.search(page).group(1)
    assert (await api.client.get("/favicon.ico", allow_redirects=False)).status == 301
    await api.client.get("/login?next=/somewhere")  # e.g. another tab
    response = await api.client.post(
        "/login",
        data={"email": "ops@example.com", "password": "correct horse", "csrf": token, "next": "/"},
        allow_redirects=False,
    )
    assert response.status == 302
