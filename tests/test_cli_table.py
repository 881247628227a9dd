"""The command table of `provision` (nouns then verbs) and the hidden old spellings."""
import re

import pytest

from provision import cli, config, errors

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]

TABLE = {
    "local": {"build", "up", "down", "env", "status"},
    "stacks": {"plan", "up", "down", "drift", "cost"},
    "cluster": {"bootstrap", "identity"},
    "app": {"deploy", "rollback", "status", "diff"},
    "dns": {"sync", "origin-cert"},
    "verify": set(),
    "check": set(),
    "backup": {"create", "list", "restore", "drill", "prune"},
    "signoff": {"build", "release", "verify", "keygen"},
    "demo": set(),
}
ENV = config.environments()[0]
SHA = "0" * 40


def listed(help_text: str) -> set[str]:
    """The command names a --help page lists under its positional arguments."""
    return set(re.findall(r"^ {4}(\S+)", help_text, re.M))


def test_help_lists_exactly_the_table():
    assert listed(cli.parser().format_help()) == set(TABLE)


@pytest.mark.parametrize("noun", [n for n, verbs in TABLE.items() if verbs])
def test_each_noun_lists_exactly_its_verbs(noun, capsys):
    with pytest.raises(SystemExit) as e:
        cli.parser().parse_args([noun, "--help"])
    assert e.value.code == 0
    assert listed(capsys.readouterr().out) == TABLE[noun]


@pytest.mark.parametrize("old, new", [
    (["plan", "--env", ENV], ["stacks", "plan", "--env", ENV]),
    (["up", "--env", ENV], ["stacks", "up", "--env", ENV]),
    (["down", "--env", ENV], ["stacks", "down", "--env", ENV]),
    (["drift", "--env", ENV], ["stacks", "drift", "--env", ENV]),
    (["cost", "--env", ENV], ["stacks", "cost", "--env", ENV]),
    (["deploy", "--env", ENV, "--image-tag", SHA], ["app", "deploy", "--env", ENV, "--image-tag", SHA]),
    (["rollback", "--env", ENV], ["app", "rollback", "--env", ENV]),
    (["status", "--env", ENV], ["app", "status", "--env", ENV]),
    (["cluster-identity", "--env", ENV], ["cluster", "identity", "--env", ENV]),
    (["backup", "--dsn-env", "V", "--database", "d", "--out", "o"],
     ["backup", "create", "--dsn-env", "V", "--database", "d", "--out", "o"]),
    (["restore", "--from", "d", "--verify-only"], ["backup", "restore", "--from", "d", "--verify-only"]),
    (["signoff", "reports/x"], ["signoff", "build", "reports/x"]),
    (["signoff"], ["signoff", "build"]),
])
def test_old_spelling_runs_the_same_command(old, new):
    argv, alias = cli.canonical(old)
    assert argv == new and alias == old[0]
    assert vars(cli.parser().parse_args(argv)) == vars(cli.parser().parse_args(new))


@pytest.mark.parametrize("argv", [
    ["backup", "create", "--dsn-env", "V", "--database", "d", "--out", "o"],
    ["backup", "--help"], ["signoff", "build"], ["signoff", "-h"], ["local", "up"], ["dns", "sync", "--env", ENV],
])
def test_new_spellings_are_left_alone(argv):
    assert cli.canonical(argv) == (argv, None)


def test_old_spellings_are_hidden_from_help():
    text = cli.parser().format_help()
    for old in ("plan", "deploy", "rollback", "cluster-identity", "restore", "drift"):
        assert old not in listed(text)


@pytest.mark.parametrize("argv, prefix", [
    (["cost", "--env", "staging"], "provision cost: "),
    (["stacks", "cost", "--env", "staging"], "provision stacks cost: "),
    (["deploy", "--env", "staging", "--image-tag", SHA], "provision deploy: "),
    (["app", "deploy", "--env", "staging", "--image-tag", SHA], "provision app deploy: "),
])
def test_errors_name_the_command_as_typed(argv, prefix, capsys):
    assert cli.main(argv) == errors.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == prefix + errors.UNKNOWN_ENV.format(env="staging", known=", ".join(config.environments()))


def test_new_verbs_have_no_old_spelling():
    assert cli.canonical(["signoff-release", "--commit", SHA]) == (["signoff-release", "--commit", SHA], None)
    assert cli.canonical(["signoff", "verify", "r"]) == (["signoff", "verify", "r"], None)
