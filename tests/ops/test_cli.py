"""``python -m service``: no command runs the service; its options may be given without ``serve``."""

from __future__ import annotations

import service.__main__ as cli


def test_options_without_a_command_are_the_development_server_s(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "serve", lambda argv=None: seen.append(argv) or 0)
    assert cli.main(["--no-store"]) == 0
    assert cli.main(["serve", "--no-store"]) == 0
    assert cli.main([]) == 0
    assert seen == [["--no-store"], ["--no-store"], []]


def test_an_unknown_command_is_refused_with_the_list(capsys):
    assert cli.main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out
