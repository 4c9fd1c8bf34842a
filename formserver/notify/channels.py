"""The outside channels: one message per delivery, in each receiver's own format.

    email     SMTP (smtplib), a stable Message-ID per delivery (mail clients and archives drop repeats)
    wecom     企业微信群机器人: {"msgtype": "markdown", "markdown": {"content": …}}
    dingtalk  钉钉自定义机器人: {"msgtype": "markdown", "markdown": {"title", "text"}}; with a 加签 secret the URL
              gets timestamp (ms) and sign = base64(HMAC-SHA256(secret, "timestamp\\nsecret"))
    feishu    飞书自定义机器人: {"msg_type": "text", "content": {"text": …}}; with a secret the body gets
              timestamp (s) and sign = base64(HMAC-SHA256(key="timestamp\\nsecret", message=""))
    webhook   generic JSON: {"id", "kind", "title", "body", "link", "event_at", "recipient"}, the id also as
              Idempotency-Key header; with a secret, X-Signature = hex HMAC-SHA256 of the body

`send` raises SendError for anything that is not a plain success (connection refused, timeout, a 4xx/5xx, a
bot's errcode), so the worker retries it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any


class SendError(Exception):
    pass


@dataclass(frozen=True)
class Message:
    """What a delivery says, and the key a receiver may deduplicate by (the same on every retry)."""

    key: str
    kind: str
    title: str
    body: str
    link: str  # absolute
    event_at: str
    username: str
    display_name: str
    email: str = ""

    def text(self) -> str:
        return f"{self.title}\n{self.body}\n{self.link}" if self.link else f"{self.title}\n{self.body}"

    def markdown(self) -> str:
        link = f"\n\n[查看详情]({self.link})" if self.link else ""
        return f"**{self.title}**\n\n{self.body}\n\n提醒对象:{self.display_name}{link}"


def idempotency_key(dedup_key: str, channel: str) -> str:
    return hashlib.sha256(f"{dedup_key}|{channel}".encode()).hexdigest()[:32]


def _sign(key: str, message: str = "") -> str:
    """base64 of HMAC-SHA256 (飞书 signs an empty message with the key "timestamp\nsecret")."""
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def request_for(channel: str, message: Message, config: Mapping[str, Any],
                now: float | None = None) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, JSON body, extra headers) of a webhook channel's request."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    if channel == "wecom":
        return config["NOTIFY_WECOM_URL"], {"msgtype": "markdown", "markdown": {"content": message.markdown()}}, headers
    if channel == "dingtalk":
        url = config["NOTIFY_DINGTALK_URL"]
        if secret := config.get("NOTIFY_DINGTALK_SECRET"):
            stamp = str(int(now * 1000))
            sign = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
            query = urllib.parse.urlencode({"timestamp": stamp, "sign": base64.b64encode(sign).decode()})
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url, {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}, headers
    if channel == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": message.text()}}
        if secret := config.get("NOTIFY_FEISHU_SECRET"):
            stamp = str(int(now))
            body = {"timestamp": stamp, "sign": _sign(f"{stamp}\n{secret}"), **body}
        return config["NOTIFY_FEISHU_URL"], body, headers
    if channel == "webhook":
        body = {"id": message.key, "kind": message.kind, "title": message.title, "body": message.body,
                "link": message.link, "event_at": message.event_at,
                "recipient": {"username": message.username, "display_name": message.display_name}}
        headers["Idempotency-Key"] = message.key
        return config["NOTIFY_WEBHOOK_URL"], body, headers
    raise ValueError(channel)


def _post(url: str, body: dict[str, Any], headers: dict[str, str], config: Mapping[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    if secret := config.get("NOTIFY_WEBHOOK_SECRET") if "Idempotency-Key" in headers else "":
        headers = {**headers, "X-Signature": hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()}
    request = urllib.request.Request(url, data, {"Content-Type": "application/json; charset=utf-8", **headers})
    try:
        with urllib.request.urlopen(request, timeout=float(config["NOTIFY_SEND_TIMEOUT"])) as answer:
            text = answer.read(65536)
    except urllib.error.HTTPError as error:
        raise SendError(f"HTTP {error.code}") from error
    except (OSError, ValueError) as error:  # refused, reset, timed out, bad URL
        raise SendError(f"{type(error).__name__}: {error}") from error
    try:
        reply = json.loads(text or b"{}")
    except ValueError:
        return  # a plain 2xx without JSON: the generic receiver's own business
    if isinstance(reply, dict):  # 企业微信/钉钉 errcode, 飞书 code / StatusCode: 0 is success
        for field in ("errcode", "code", "StatusCode"):
            if reply.get(field) not in (None, 0):
                raise SendError(f"{field} {reply.get(field)}: {reply.get('errmsg') or reply.get('msg') or ''}"[:300])


def _email(message: Message, config: Mapping[str, Any]) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = config["SMTP_FROM"]
    mail["To"] = message.email
    mail["Date"] = formatdate(localtime=True)
    domain = str(config["SMTP_FROM"]).rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<{message.key}@{domain}>"
    mail.set_content(message.text())
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]),
                          timeout=float(config["NOTIFY_SEND_TIMEOUT"])) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD", ""))
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as error:
        raise SendError(f"SMTP {type(error).__name__}: {error}"[:300]) from error


def send(channel: str, message: Message, config: Mapping[str, Any]) -> None:
    if channel == "email":
        _email(message, config)
        return
    url, body, headers = request_for(channel, message, config)
    _post(url, body, headers, config)
