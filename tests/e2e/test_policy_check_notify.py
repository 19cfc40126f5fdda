"""``policy check --online`` with ``[notify] sender``: a warning that Graph cannot show the
Exchange scope that should limit Mail.Send to the sender, and a note when the app's token
holds no Mail.Send (right when Exchange alone grants it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import CLIENT_ID, POLICY_TEMPLATE, render_policy
from test_policy_check_online import _check, _config

from fake_graph.embedded import RunningFake

WARNING = ("warning: [notify] sender = mystaff@e2e.example: Graph cannot show whether the app's "
           "Mail.Send is limited to that mailbox (Exchange Online RBAC for Applications)")


def _with_sender(fake: RunningFake, tmp: Path) -> Path:
    config = _config(fake, tmp)
    config.write_text(config.read_text() + '[notify]\nsender = "mystaff@e2e.example"\n')
    return config


def test_the_sender_s_scope_is_a_warning(e2e_fake: RunningFake, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    e2e_fake.fake.reset()
    e2e_fake.fake.directory.applications[CLIENT_ID].application_permissions.append("Mail.Send")
    policy = render_policy(POLICY_TEMPLATE, tmp_path / "policy.yaml")
    code, out = _check(policy, _with_sender(e2e_fake, tmp_path), capsys)
    assert code == 0, out
    assert f"{policy}: {WARNING}" in out
    assert "Test-ServicePrincipalAuthorization" in out and "note:" not in out
    code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)  # no sender: no word
    assert code == 0 and "Mail.Send" not in out


def test_without_mail_send_in_the_token_a_note(e2e_fake: RunningFake, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Granted through Exchange's RBAC for Applications alone, Mail.Send is in no token."""
    e2e_fake.fake.reset()
    policy = render_policy(POLICY_TEMPLATE, tmp_path / "policy.yaml")
    code, out = _check(policy, _with_sender(e2e_fake, tmp_path), capsys)
    assert code == 0, out
    assert f"{policy}: {WARNING}" in out
    assert (f"{policy}: note: the app's token holds no Mail.Send: right when Exchange's RBAC "
            "for Applications grants it for mystaff@e2e.example alone") in out
