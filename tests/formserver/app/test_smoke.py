"""First end-to-end pass through the form server with the Flask test client."""

from tests.server_support import create_user, form_post, login, new_form, patrol_values


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_fill_and_submit_a_patrol(app, client):
    create_user(app, "zhang", display_name="张三")
    assert login(client, "zhang").status_code == 302
    html, csrf, uid = new_form(client, "patrol")
    assert "巡查检查表" in html
    values = patrol_values(app, cctv="fault", cctv_note="B1 监控黑屏,已报工程部")
    response = client.post("/forms/patrol", data=form_post(values, csrf, uid))
    assert response.status_code == 303, response.get_data(as_text=True)
    detail = client.get(response.headers["Location"])
    assert detail.status_code == 200
    assert "B1 监控黑屏" in detail.get_data(as_text=True)
    again = client.post("/forms/patrol", data=form_post(values, csrf, uid))
    assert again.status_code == 303
    assert again.headers["Location"] == response.headers["Location"]
