"""An admin lists a user's API tokens and revokes one of them; the others keep working."""

from __future__ import annotations

import re

from tests.formserver.api.test_api import Api, make_token


def test_revoke_one_token_by_its_id(app):
    first = Api(app, make_token(app))
    second_token = app.test_cli_runner().invoke(args=["create-token", "zhang", "--label", "报修系统"]).output.strip()
    second = Api(app, second_token)
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["list-tokens", "zhang"]).output
    ids = re.findall(r"^(\d+)\t", listing, re.M)
    assert len(ids) == 2 and "巡更系统" in listing and "报修系统" in listing and "有效" in listing
    result = runner.invoke(args=["revoke-token", ids[1]])
    assert result.exit_code == 0 and "已吊销令牌" in result.output
    assert second.get("/forms").status_code == 401
    assert first.get("/forms").status_code == 200
    assert "已吊销" in runner.invoke(args=["list-tokens", "zhang"]).output
    again = runner.invoke(args=["revoke-token", ids[1]])
    assert again.exit_code != 0 and "已于" in again.output
    missing = runner.invoke(args=["revoke-token", "99999"])
    assert missing.exit_code != 0 and "没有编号为 99999 的令牌" in missing.output
