"""Keys and real `vts` processes: the CLI, the start-up refusal, no secret in any log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp
from _process import SEED_BODY, VtsProcess, vts_command, vts_env

ADMIN_KEY = "bootstrap-" + "a" * 40


def vts_keys(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        vts_command("keys", *args),
        env=vts_env({"VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'vts.db'}"}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    created = vts_keys(
        tmp_path,
        "create",
        "--tenant",
        "acme",
        "--scope",
        "jobs:read",
        "--scope",
        "jobs:write",
        "--expires",
        "90d",
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("vts_") and len(token.splitlines()) == 1
    key_id = token.split("_")[1]
    assert "not shown again" in created.stderr and token not in created.stderr
    listed = vts_keys(tmp_path, "list", "--tenant", "acme")
    assert listed.returncode == 0, listed.stderr
    (row,) = listed.stdout.splitlines()
    fields = row.split("\t")
    assert fields[:4] == [key_id, "acme", "jobs:read,jobs:write", "active"]
    assert token.split("_", 2)[2] not in listed.stdout  # never the secret
    assert vts_keys(tmp_path, "list", "--tenant", "globex").stdout == ""
    revoked = vts_keys(tmp_path, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in vts_keys(tmp_path, "list").stdout.split("\t")[3]
    unknown = vts_keys(tmp_path, "revoke", "0123456789ab")
    assert unknown.returncode == 1 and "no API key" in unknown.stderr
    whole = vts_keys(tmp_path, "revoke", token)  # a whole key, not its id
    assert whole.returncode == 1 and "no API key" in whole.stderr
    assert token.split("_", 2)[2] not in whole.stderr + whole.stdout
    bad = vts_keys(tmp_path, "create", "--tenant", "Bad Name", "--scope", "dlq")
    assert bad.returncode == 2 and "tenant" in bad.stderr
    # The lifetimes POST /admin/keys takes, no more: 1s to 999d.
    long = vts_keys(
        tmp_path, "create", "--tenant", "ops", "--scope", "dlq", "--expires", "1000d"
    )
    assert long.returncode == 2 and "999d" in long.stderr


def test_serve_with_keys_and_no_way_in_exits_2_saying_how(tmp_path: Path) -> None:
    result = subprocess.run(
        vts_command("serve"),
        env=vts_env(
            {
                "VTS_HOST": "0.0.0.0",
                "VTS_PORT": "0",
                "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'vts.db'}",
            }
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("vts: VTS_AUTH=keys but nobody can authenticate")
    assert "VTS_ADMIN_KEY" in last and "vts keys create" in last
    assert "Traceback" not in result.stderr


async def test_serve_with_keys_logs_no_secret(tmp_path: Path) -> None:
    # A key made with the CLI lets a server without VTS_ADMIN_KEY start.
    cli_key = vts_keys(tmp_path, "create", "--tenant", "ops", "--scope", "admin")
    assert cli_key.returncode == 0, cli_key.stderr
    cli_token = cli_key.stdout.strip()
    process = VtsProcess(
        tmp_path,
        {
            "VTS_AUTH": "keys",
            "VTS_ADMIN_KEY": ADMIN_KEY,
            "VTS_SIM_DURATION": "0",
            "VTS_LOG_LEVEL": "DEBUG",
        },
    )
    await process.start()
    secrets = [ADMIN_KEY, cli_token]
    try:
        async with aiohttp.ClientSession(process.url) as http:
            for admin in (ADMIN_KEY, cli_token):
                async with http.post(
                    "/admin/keys",
                    json={"tenant": "acme", "scopes": ["jobs:read", "jobs:write"]},
                    headers={"Authorization": f"Bearer {admin}"},
                ) as response:
                    assert response.status == 201, await response.text()
                    secrets.append((await response.json())["key"])
            tenant_key = {"Authorization": f"Bearer {secrets[-1]}"}
            async with http.post("/translate", json=SEED_BODY, headers=tenant_key) as r:
                assert r.status == 202
            for wrong in (secrets[-1] + "x", ADMIN_KEY[:-1] + "!"):
                async with http.get(
                    "/jobs", headers={"Authorization": f"Bearer {wrong}"}
                ) as r:
                    assert r.status == 401
                    secrets.append(wrong)
            async with http.get("/metrics") as r:
                metrics = await r.text()
        process.terminate()
        assert await process.wait(30) == 0
    finally:
        process.close()
    log = process.log_path.read_text()
    assert "listening on" in log
    for secret in secrets:
        parts = secret.split("_", 2)
        for part in {secret, parts[-1]} if len(parts) == 3 else {secret}:
            assert part not in log, "a key secret reached the log"
            assert part not in metrics
    assert not process.error_lines(), process.logs()
