"""``davbind user``: accounts and app passwords in a data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from davbind.cli.main import cli
from davbind.storage.credentials import token_digest, verify_password
from davbind.storage.homes import ALIAS_PARENT, HOME_PARENT
from davbind.storage.open import default_urls, open_blobs, open_metadata


def run(data: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["user", *args, "--data", str(data)], input=stdin)


def _store(data: Path):  # type: ignore[no-untyped-def]
    meta, blobs = default_urls(data)
    return open_metadata(meta, open_blobs(blobs))


def test_add_creates_the_user_and_the_home_under_both_paths(tmp_path: Path) -> None:
    data = tmp_path / "d"
    result = run(data, "add", "alice", "--password-stdin", stdin="s3cret pass\n")
    assert result.exit_code == 0, result.output
    assert "/home/alice/" in result.output
    store = _store(data)
    try:
        with store.read() as txn:
            user = txn.user("alice")
            assert user is not None and verify_password(user.password_hash, "s3cret pass")
            home = txn.resolve((*HOME_PARENT, "alice"))
            assert txn.resolve((*ALIAS_PARENT, "alice")).key == home.key
    finally:
        store.close()


def test_add_prompts_twice_for_the_password(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run(data, "add", "bob", stdin="one\ntwo\none\none\n").exit_code == 0
    assert run(data, "list").output.startswith("bob\t")


def test_passwd_list_and_remove(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run(data, "add", "alice", "--password-stdin", stdin="old\n")
    assert run(data, "passwd", "alice", "--password-stdin", stdin="new\n").exit_code == 0
    store = _store(data)
    try:
        with store.read() as txn:
            user = txn.user("alice")
            assert user is not None and verify_password(user.password_hash, "new")
    finally:
        store.close()
    assert "alice\t" in run(data, "list").output
    run(data, "add", "bob", "--password-stdin", stdin="pw\n")
    shared = CliRunner().invoke(cli, ["share", "/home/bob", "--with", "alice", "--data", str(data)])
    assert shared.exit_code == 0, shared.output
    assert run(data, "quota", "alice", "1G").exit_code == 0
    listed = CliRunner().invoke(cli, ["shares", "--data", str(data)])
    assert listed.output == "/home/bob/\talice\tread,write-content,write-properties,bind,unbind\n"
    assert CliRunner().invoke(cli, ["shares", "--user", "alice", "--data", str(data)]).output == ""
    assert run(data, "remove", "alice").exit_code == 0
    assert run(data, "list").output.startswith("bob\t")
    store = _store(data)
    try:
        with store.read() as txn:  # the home stays (no --purge); the alias goes
            txn.resolve((*HOME_PARENT, "alice"))
            assert txn.lookup(txn.resolve(ALIAS_PARENT).key, "alice") is None
            # her grants and quota go: a later alice inherits no share
            assert txn.grants_to("alice") == [] and txn.quota("alice") is None
    finally:
        store.close()


def test_tokens_are_shown_once_stored_hashed_listed_and_revoked(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run(data, "add", "alice", "--password-stdin", stdin="pw\n")
    made = CliRunner().invoke(
        cli, ["user", "token", "add", "alice", "--label", "phone", "--read-only",
              "--data", str(data)])  # fmt: skip
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("dbt_")
    tid = token.split("_")[1]
    store = _store(data)
    try:
        with store.read() as txn:
            found = txn.token_by_digest(token_digest(txn.token_secret(), token))
            assert found is not None and found.scope == "read" and found.label == "phone"
    finally:
        store.close()
    assert (data / "meta.sqlite3").read_bytes().find(token.encode()) == -1
    listed = CliRunner().invoke(cli, ["user", "token", "list", "alice", "--data", str(data)])
    assert listed.output.startswith(f"{tid}\tread\tphone\t")
    revoke = ["user", "token", "revoke", "alice", tid, "--data", str(data)]
    assert CliRunner().invoke(cli, revoke).exit_code == 0
    again = CliRunner().invoke(cli, revoke)
    assert again.exit_code == 1 and "not found" in again.output


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (("add", "a:b", "--password-stdin"), "x\n", 2, "invalid user name"),
        (("add", "alice", "--password-stdin"), "\n", 2, "password is empty"),
        (("add", "alice", "--password-stdin"), "x\n", 1, "user alice exists already"),
        (("passwd", "carol", "--password-stdin"), "x\n", 1, "user carol not found"),
        (("remove", "carol"), None, 1, "user carol not found"),
        (("token", "add", "carol", "--label", "x"), None, 1, "user carol not found"),
    ],
)
def test_bad_requests_get_one_line_and_change_nothing(
    tmp_path: Path, args: tuple[str, ...], stdin: str | None, code: int, message: str
) -> None:
    data = tmp_path / "d"
    run(data, "add", "alice", "--password-stdin", stdin="pw\n")
    before = run(data, "list").output
    result = run(data, *args, stdin=stdin)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    assert run(data, "list").output == before


def test_a_folder_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    result = run(tmp_path, "add", "alice", "--password-stdin", stdin="pw\n")
    assert result.exit_code == 2 and "not a davbind data directory" in result.output
    assert run(tmp_path / "missing", "list").exit_code == 2


def test_user_and_share_work_on_the_store_a_config_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--config``: the metadata store of a multi-node deployment (PostgreSQL) is found
    as ``serve`` finds it, not in the data directory."""
    import os

    from tests import postgres_databases

    server = os.environ.get("DAVBIND_TEST_POSTGRES_URL", "")
    if not server:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail("DAVBIND_TEST_POSTGRES_URL is not set and CI is", pytrace=False)
        pytest.skip("DAVBIND_TEST_POSTGRES_URL is not set (scripts/postgres.sh starts one)")
    url = postgres_databases.create(server, "davbind_test_cli_")
    monkeypatch.chdir(tmp_path)  # where the default data directory would be made
    try:
        config = tmp_path / "davbind.toml"
        config.write_text(f'metadata_url = "{url}"\nblobs_url = "file://{tmp_path}/blobs"\n')
        runner = CliRunner()
        for name in ("alice", "bob"):
            done = runner.invoke(cli, ["user", "add", name, "--password-stdin", "--config",
                                       str(config)], input="pw pw pw\n")  # fmt: skip
            assert done.exit_code == 0, done.output
        listed = runner.invoke(cli, ["user", "list", "--config", str(config)])
        assert listed.exit_code == 0 and "alice" in listed.output and "bob" in listed.output
        shared = runner.invoke(cli, ["share", "/home/alice", "--with", "bob", "--read-only",
                                     "--config", str(config)])  # fmt: skip
        assert shared.exit_code == 0 and "/home/bob/Shared/alice/" in shared.output, shared.output
        assert not (tmp_path / "davbind-data").exists()  # nothing made in a data directory
        store = open_metadata(url, open_blobs(f"file://{tmp_path}/blobs"))
        try:
            with store.read() as txn:
                assert [u.name for u in txn.users()] == ["alice", "bob"]
                assert txn.resolve(("home", "bob", "Shared", "alice")).owner == "alice"
        finally:
            store.close()
    finally:
        postgres_databases.drop(server, [url])
