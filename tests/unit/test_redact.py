"""Secrets are masked in stored output, evidence and notifications; ordinary text is not."""

from __future__ import annotations

import json

import pytest

from overseer.state.redact import MASK, mask, mask_env

# Fake credentials of the real shapes (none of them is valid anywhere).
OPENAI = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
OPENAI_PROJ = "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
ANTHROPIC = "sk-ant-api03-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCd"
GITHUB_PAT_CLASSIC = "ghp_" + "A" * 16 + "b" * 10 + "0123456789"
GITHUB_OAUTH = "gho_" + "Q" * 36
GITHUB_FINE = "github_pat_" + "11ABCDEFG0" + "x" * 20 + "_" + "Y" * 30
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
SLACK = "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOp"
GOOGLE = "AIza" + "SyA-1234567890abcdefghijklmnopqrstu"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"export OPENAI_API_KEY={OPENAI}", OPENAI, "export OPENAI_API_KEY="),
        (f"using key {OPENAI} now", OPENAI, "using key sk-"),
        (f"key: {OPENAI_PROJ}", OPENAI_PROJ, "sk-proj-"),
        (f"client = Anthropic(api_key='{ANTHROPIC}')", ANTHROPIC, "Anthropic(api_key='"),
        (f"found {ANTHROPIC} in env", ANTHROPIC, "sk-ant-"),
        (f"git clone https://{GITHUB_PAT_CLASSIC}@github.com/o/r", GITHUB_PAT_CLASSIC, "ghp_"),
        (f"token {GITHUB_OAUTH}", GITHUB_OAUTH, "gho_"),
        (f"GH={GITHUB_FINE}", GITHUB_FINE, "github_pat_"),
        (f"aws_access_key_id = {AWS}", AWS, "aws_access_key_id = "),
        (f"AccessKeyId {AWS} expired", AWS, "AKIA"),
        (f"slack: {SLACK}", SLACK, "xoxb-"),
        (f"maps key={GOOGLE}", GOOGLE, "AIza"),
        (f"cookie session={JWT};", JWT, "session="),
        (f"jwt {JWT}", JWT, "jwt eyJ"),
        ("curl -H 'Authorization: Bearer abc123def456ghi'", "abc123def456ghi", "Authorization: "),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "Authorization: "),
        ("proxy-authorization: Digest username=x", "username=x", "proxy-authorization: "),
        ("sent Bearer 9f8e7d6c5b4a3210 to api", "9f8e7d6c5b4a3210", "sent Bearer "),
        ("x-api-key: 0123456789abcdef", "0123456789abcdef", "x-api-key: "),
        ("mysql -u root --password=hunter22 db", "hunter22", "--password="),
        ("login --password hunter22 --user x", "hunter22", "--password "),
        ("DB_PASSWORD=hunter22 ./run", "hunter22", "DB_PASSWORD="),
        ('{"password": "hunter22", "user": "x"}', "hunter22", '"password": "'),
        ("token=abcd1234&page=2", "abcd1234", "token="),
        ("GITHUB_TOKEN='s3cr3t-value'", "s3cr3t-value", "GITHUB_TOKEN='"),
        ("secret=opensesame", "opensesame", "secret="),
        ("api_key=k-123456", "k-123456", "api_key="),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG", "AWS_SECRET"),
        ("  password: hunter22", "hunter22", "  password: "),
        ("- api_key: abc123xyz", "abc123xyz", "- api_key: "),
        ("postgres://admin:hunter22@db:5432/app", "hunter22", "postgres://admin:"),
        # Shapes that were stored in clear before.
        ("DB_PASS=hunter22 ./migrate", "hunter22", "DB_PASS="),
        ("export APP_PWD='hunter22'", "hunter22", "APP_PWD='"),
        ("MYSQL_PWD=hunter22 mysql -u root", "hunter22", "MYSQL_PWD="),
        ("redis://:hunter22@cache:6379/0", "hunter22", "redis://:"),
        (
            "AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIz==;EndpointSuffix=core.windows.net",
            "Zm9vYmFyYmF6cXV4MTIz",
            "AccountName=acct;AccountKey=",
        ),
        (
            "GET https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=AbCd%2Bef%3D&se=2026",
            "AbCd%2Bef%3D",
            "&sig=",
        ),
        (
            "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
            "aws_secret_access_key ",
        ),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "wJalrXUtnFEMI", " = "),
        ("stripe key " + STRIPE, STRIPE, "sk_live_"),
        ("restricted " + STRIPE.replace("sk_", "rk_"), STRIPE[3:], "rk_live_"),
    ],
)
def test_each_secret_shape_is_masked(text: str, secret: str, kept: str) -> None:
    out = mask(text)
    assert secret not in out, out
    assert MASK in out
    assert kept in out  # enough context stays to see what was there


def test_private_key_blocks_are_masked_whole_and_when_cut() -> None:
    body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n" * 3
    block = f"key:\n-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\ndone"
    out = mask(block)
    assert "MIIEow" not in out
    assert out.startswith("key:\n-----BEGIN RSA PRIVATE KEY-----\n***\n")
    assert out.endswith("-----END RSA PRIVATE KEY-----\ndone")
    openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"  # no END yet
    assert "b3BlbnNz" not in mask(openssh)
    cut = body + "-----END PRIVATE KEY-----\n"  # a tail that lost the BEGIN line
    assert "MIIEow" not in mask(cut) and "-----END PRIVATE KEY-----" in mask(cut)


def test_ordinary_text_is_left_alone() -> None:
    text = "\n".join(
        [
            "Password: ",
            "Enter passphrase for key '/home/u/.ssh/id_ed25519':",
            "token count: 1234, max_tokens=4096, tokenizer=bert-base",
            "sk-learn is not a key; neither is sk-1",
            "commit 3f786850e387550fdab836ed7e6dc881de23001b",
            "Bearer authentication is configured",
            "error: authorization failed for user bob",
            "compiling module 3/3 ... ok",
            "PWD=/home/user/project",
            "see https://example.com/path?page=2&sort=asc",
            "Deploy to staging? [y/N]",
            "AKIA is a prefix, AKIA1234 is too short",
            "the secret to good tests is patience",
            "bash: line 1: no-such-command: command not found",
            "-----BEGIN CERTIFICATE-----",
            "OLDPWD=/tmp bypass=1 compass=north passenger=2",
            "signal=9 design=ok monkey=3 keyboard=us",
        ]
    )
    assert mask(text) == text


def test_service_account_json_stays_valid_json_without_its_key() -> None:
    key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    doc = json.dumps(
        {
            "type": "service_account",
            "private_key_id": "1a2b3c4d5e6f7a8b9c0d",
            "private_key": f"-----BEGIN PRIVATE KEY-----\n{key}\n-----END PRIVATE KEY-----\n",
            "client_email": "ci@project.iam.gserviceaccount.com",
        }
    )
    out = mask(doc)
    assert key not in out and "1a2b3c4d5e6f7a8b9c0d" not in out
    parsed = json.loads(out)  # still a JSON document
    assert parsed["client_email"] == "ci@project.iam.gserviceaccount.com"


def test_masking_is_idempotent_and_handles_empty_text() -> None:
    once = mask(f"a password=hunter22 b {OPENAI} c Authorization: Bearer x1y2z3w4v5")
    assert mask(once) == once
    assert mask("") == ""


def test_mask_env_masks_values_not_names() -> None:
    env = mask_env({"OVERSEER_REASON": f"failed with key {OPENAI}", "OVERSEER_TASK": "build"})
    assert env["OVERSEER_TASK"] == "build"
    assert OPENAI not in env["OVERSEER_REASON"] and "sk-***" in env["OVERSEER_REASON"]
