from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from mystaff_proxy.audit.find import find_phone
from mystaff_proxy.audit.log import AuditEvent, EventType, Outcome, Principal
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.cli import main
from mystaff_proxy.config import load_config

MGR = Principal("0b1d0000-0000-4000-8000-000000000001", "mgr@contoso.com")
ANN = Principal("0b1d0000-0000-4000-8000-000000000002", "ann@contoso.com")
BOB = Principal("0b1d0000-0000-4000-8000-000000000003", "bob@contoso.com")


def _config(tmp_path: Path, audit: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\npublic_url = "https://mystaff.contoso.com"\n'
        '[tenant]\nid = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
        '[app]\nclient_id = "11111111-1111-1111-1111-111111111111"\n'
        f'[session]\nsecret = "{secrets.token_urlsafe(32)}"\n'
        f'[audit]\npath = "{audit}"\n{extra}')
    return config


def _log(path: Path, hasher: PhoneHasher) -> None:
    h = hasher.digest

    def event(kind: EventType, target: Principal, outcome: Outcome = Outcome.SUCCESS,
              reason: str | None = None, **detail: str) -> bytes:
        return AuditEvent("r" * 32, kind, MGR, outcome, target, "seattle", reason,
                          {"phoneType": "mobile", **detail}).to_line((1, "0" * 64))

    path.write_bytes(b"".join([
        event(EventType.PHONE_ADDED, ANN, phoneHash=h("+12065550177")),
        b"not json, passed over\n",
        AuditEvent("r" * 32, EventType.PASSWORD_RESET, MGR, Outcome.SUCCESS, ANN,
                   "seattle").to_line((2, "0" * 64)),
        event(EventType.PHONE_CHANGED, ANN, phoneHash=h("+12065550133"),
              previousPhoneHash=h("+12065550177")),
        event(EventType.PHONE_ADDED, BOB, Outcome.DENIED, "phone_number_not_allowed",
              phoneHash=h("+12065550177"), why="own_number"),
    ]))


def test_find_phone_matches_either_side(tmp_path: Path) -> None:
    hasher = PhoneHasher(secrets.token_bytes(32))
    log = tmp_path / "audit.jsonl"
    _log(log, hasher)
    found = list(find_phone([str(log)], hasher.digest("+12065550177")))
    assert [f.where for f in found] == [f"{log}:1", f"{log}:4", f"{log}:5"]
    assert [f.line().split("  ")[1:] for f in found] == [
        ["phone_added", "success", "mgr@contoso.com", "ann@contoso.com", "seattle", "mobile"],
        ["phone_changed", "success", "mgr@contoso.com", "ann@contoso.com", "seattle", "mobile",
         "previous number"],
        ["phone_added", "denied:phone_number_not_allowed", "mgr@contoso.com",
         "bob@contoso.com", "seattle", "mobile"],
    ]
    assert list(find_phone([str(log)], hasher.digest("+12065550199"))) == []


def test_the_cli_uses_the_configured_key(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "audit.jsonl"
    key = secrets.token_urlsafe(32)
    config = _config(tmp_path, log, f'phone_hash_key = "{key}"\n')
    _log(log, PhoneHasher.from_settings(load_config(config, {}, allow_no_credential=True)))
    assert main(["audit", "find-phone", "206 555 0177", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3
    assert err == f"{log}: 3 event(s) about +12065550177\n"
    assert main(["audit", "find-phone", "0207 946 0958", "--region", "GB",
                 "--config", str(config)]) == 1
    assert capsys.readouterr().err == f"{log}: no event about +442079460958\n"


@pytest.mark.parametrize(("args", "message"), [
    (["+1 206 555 0177", "--audit", "missing.jsonl"], "missing.jsonl: cannot read"),
    (["+1 206 555 0177", "--audit", "-"], "give the files it was saved to"),
    (["twelve"], "not a phone number"),
    (["206 555 0177", "--region", "XX"], "--region: 'XX' is not a region code"),
])
def test_the_cli_exits_2_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, args: list[str],
                                   message: str) -> None:
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "audit.jsonl"
    log.write_text("")
    config = _config(tmp_path, log)
    assert main(["audit", "find-phone", *args, "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_the_cli_needs_the_configuration(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "find-phone", "+1 206 555 0177",
                 "--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the configuration file" in err and "[session] secret" in err
