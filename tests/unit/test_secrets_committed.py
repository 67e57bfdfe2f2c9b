"""No real-looking secret is committed: every file git tracks is scanned for cloud access keys,
private keys, tokens and long random strings assigned to a *KEY / *SECRET / *PASSWORD / *TOKEN
name. Placeholders (`change-me...`, `${VAR}` references, `<...>`) pass; `.env` itself must never
be tracked. The scanner is checked on planted secrets built at run time (so this file holds
none itself)."""

from __future__ import annotations

import math
import re
import secrets
import subprocess
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]

# well-known token shapes: found anywhere, whatever they are assigned to
PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "bcrypt hash": re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"),
}
# NAME = value, NAME: value, "name": "value", name="value" with a secret-ish NAME
ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<name>[A-Za-z0-9_.-]*(?:secret|passw(?:or)?d|pwd|token|key|password_hash))
    ["']?\s*[:=]\s*["']?
    (?P<value>[A-Za-z0-9+/_.~-]{20,}={0,2})
    """
)
# a URL's password: scheme://user:password@host
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]*:(?P<value>[^\s@/${}<>]{12,})@")
# per character: random hex keys of 20+ characters have 2.9-4 bits (1st-100th percentile)
MIN_ENTROPY_BITS = 2.5
PLACEHOLDERS = ("change-me", "changeme", "example", "placeholder", "dummy", "your-", "xxxx")
# the credentials of the throwaway servers the test fixtures start on loopback
ALLOWED = {"dp-test-secret-0123456789"}
# a word of code or of a path: one case, up to 20 letters, maybe 2 digits after (s3, v2); random
# keys mix cases, or letters and digits, or run longer
WORD = re.compile(r"(?:[a-z]{1,20}|[A-Z]{1,20})[0-9]{0,2}|[0-9]{1,20}")


def entropy_bits(value: str) -> float:
    """Shannon entropy per character of `value` (bits)."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_random(value: str) -> bool:
    if value in ALLOWED or any(p in value.lower() for p in PLACEHOLDERS):
        return False
    # code and paths: made of words (settings.s3_access_key, result_store/local/v/r/x.npz)
    if all(WORD.fullmatch(word) for word in re.split(r"[._/~+=-]", value) if word):
        return False
    return entropy_bits(value) >= MIN_ENTROPY_BITS


def find_secrets(text: str) -> list[str]:
    """What in `text` looks like a real secret: '<kind>: <first characters>' per finding."""
    found = [
        f"{kind}: {m.group(0)[:12]}..."
        for kind, pattern in PATTERNS.items()
        for m in pattern.finditer(text)
    ]
    for m in ASSIGNMENT.finditer(text):
        if text[m.end() : m.end() + 1] == "(":  # a call: key = make_key(...)
            continue
        if looks_random(m.group("value")):
            found.append(f"{m.group('name')} = {m.group('value')[:6]}...")
    for m in URL_PASSWORD.finditer(text):
        if looks_random(m.group("value")):
            found.append(f"password in a URL: {m.group('value')[:4]}...")
    return found


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    return [REPO / name for name in listed.decode().split("\0") if name]


def scan(files: list[Path]) -> dict[str, list[str]]:
    findings = {}
    for path in files:
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary
            continue
        hits = find_secrets(data.decode("utf-8", errors="replace"))
        if hits:
            findings[str(path.relative_to(REPO))] = hits
    return findings


def test_no_tracked_file_holds_a_real_looking_secret():
    files = tracked_files()
    assert len(files) > 50, "git ls-files listed almost nothing: not run from the repository?"
    assert scan(files) == {}


def test_no_env_file_is_tracked():
    names = {p.name for p in tracked_files()}
    assert not {n for n in names if n == ".env" or (n.startswith(".env.") and n != ".env.example")}


def planted() -> dict[str, str]:
    """One line per kind of secret, made at run time (so no secret is written in this file)."""
    upper = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    b64 = secrets.token_urlsafe(30)
    return {
        "aws": f"aws_access_key_id = {'AK' + 'IA'}{upper}",
        "private key": "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n",
        "github": f"token: {'gh' + 'p_'}{secrets.token_hex(18)}",
        "env secret": f"DP_S3_SECRET_KEY={secrets.token_hex(20)}",
        "yaml password": f"  postgres_password: '{b64}'",
        "json key": f'{{"api_key": "{b64}"}}',
        "url password": f"DP_CELERY_BROKER_URL=redis://:{secrets.token_hex(16)}@redis:6379/0",
        "bcrypt": "DP_UI_PASSWORD_HASH='$2a$14$" + secrets.token_hex(27)[:53] + "'",
    }


@pytest.mark.parametrize("kind", sorted(planted()))
def test_a_planted_secret_is_found(kind, tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    path = tmp_path / "config.txt"
    path.write_text(f"# settings\n{planted()[kind]}\n")
    assert scan([path]), f"the scanner missed a planted {kind}"


@pytest.mark.parametrize(
    "line",
    [
        "DP_S3_SECRET_KEY=change-me-s3-secret",
        "MINIO_ROOT_PASSWORD=change-me-minio-admin",
        "DP_CELERY_BROKER_URL: redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379/0",
        'secret_key = os.environ["DP_S3_SECRET_KEY"]',
        "access_key=settings.s3_access_key_id,",
        "cache_key = sha256_json(payload)[:32]",
        "broker = f'redis://:{password}@{host}:{port}/0'",
    ],
)
def test_placeholders_and_code_are_not_secrets(line):
    assert find_secrets(line) == []
