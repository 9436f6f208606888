"""Realistic secret shapes, generated at test time (nothing live-looking is committed).

Each shape is a function of a seeded `random.Random` returning `(text, body)`: `text` is how the
secret appears in the wild (an .env line, a command, a JSON field, a connection string, a PEM
block), `body` the part that must never be found in any stored file. Bodies are random, so every
run uses the same fake values (the seed is fixed) and none of them is a real credential.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random text with at least one upper, lower and digit (as real generators give)."""
    while True:
        s = pick(rng, alphabet, n)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s


def pem(rng: random.Random, label: str) -> tuple[str, str]:
    body = base64.b64encode(rng.randbytes(180)).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----", body[64:100]


@dataclass(frozen=True)
class Shape:
    name: str
    family: str
    make: Callable[[random.Random], tuple[str, str]]


def _s(name: str, family: str) -> Callable[[Callable[[random.Random], tuple[str, str]]], Shape]:
    def wrap(fn: Callable[[random.Random], tuple[str, str]]) -> Shape:
        return Shape(name, family, fn)
    return wrap


def _aws_secret(rng: random.Random) -> str:
    while True:
        s = mixed(rng, B64, 40)
        if "/" in s or "+" in s:
            return s


SHAPES: list[Shape] = [
    # cloud --------------------------------------------------------------------------------------------
    Shape("aws-access-key-id", "cloud", lambda r: (lambda k: (f"the deploy used {k} last night", k))(
        "AKIA" + pick(r, UPPER_DIGITS, 16))),
    Shape("aws-session-key-id", "cloud", lambda r: (lambda k: (f"temporary creds {k} expire soon", k))(
        "ASIA" + pick(r, UPPER_DIGITS, 16))),
    Shape("aws-secret-assignment", "cloud", lambda r: (lambda s: (f"aws_secret_access_key = {s}", s))(
        _aws_secret(r))),
    Shape("aws-secret-bare-near-aws", "cloud", lambda r: (lambda s: (f"AWS creds for the bucket: {s} (rotate)", s))(
        _aws_secret(r))),
    Shape("aws-credentials-csv", "cloud", lambda r: (lambda k, s: (f"{k},{s}", s))(
        "AKIA" + pick(r, UPPER_DIGITS, 16), _aws_secret(r))),
    Shape("google-api-key", "cloud", lambda r: (lambda k: (f"maps key {k}", k))("AIza" + pick(r, URLSAFE, 35))),
    Shape("google-oauth-client-secret", "cloud", lambda r: (lambda k: (f"client secret is {k}", k))(
        "GOCSPX-" + pick(r, URLSAFE, 28))),
    Shape("google-oauth-access-token", "cloud", lambda r: (lambda k: (f"curl -H 'x: {k}' gcs", k))(
        "ya29." + pick(r, URLSAFE, 60))),
    Shape("gcp-service-account-json", "cloud", lambda r: (lambda p: (json.dumps(
        {"type": "service_account", "project_id": "demo", "private_key": p[0] + "\n"}), p[1]))(
        pem(r, "PRIVATE KEY"))),
    Shape("azure-storage-connection-string", "cloud", lambda r: (lambda k: (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={k};EndpointSuffix=core.windows.net", k[:40]))(
        base64.b64encode(r.randbytes(64)).decode())),
    Shape("azure-ad-client-secret", "cloud", lambda r: (lambda k: (f"tenant app secret {k}", k))(
        pick(r, ALNUM, 3) + "8Q~" + pick(r, ALNUM + "_~.-", 34))),
    Shape("azure-sas-url", "cloud", lambda r: (lambda k: (
        f"https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&se=2030-01-01&sp=r&sig={k}", k))(
        pick(r, ALNUM, 43) + "%3D")),
    Shape("digitalocean-token", "cloud", lambda r: (lambda k: (f"doctl auth init -t {k}", k))(
        "dop_v1_" + pick(r, HEX, 64))),
    Shape("alibaba-access-key", "cloud", lambda r: (lambda k: (f"aliyun key {k}", k))("LTAI" + pick(r, ALNUM, 20))),
    # source hosting and registries ------------------------------------------------------------------
    Shape("github-classic-pat", "vcs", lambda r: (lambda k: (f"git push with {k}", k))("ghp_" + pick(r, ALNUM, 36))),
    Shape("github-fine-grained-pat", "vcs", lambda r: (lambda k: (f"GH_TOKEN {k}", k))(
        "github_pat_" + pick(r, ALNUM + "_", 82))),
    Shape("github-oauth-token", "vcs", lambda r: (lambda k: (f"oauth {k}", k))("gho_" + pick(r, ALNUM, 36))),
    Shape("github-app-token", "vcs", lambda r: (lambda k: (f"installation token {k}", k))("ghs_" + pick(r, ALNUM, 36))),
    Shape("gitlab-pat", "vcs", lambda r: (lambda k: (f"glab auth login --token {k}", k))(
        "glpat-" + pick(r, URLSAFE, 20))),
    Shape("bitbucket-app-password", "vcs", lambda r: (lambda k: (f"bitbucket {k}", k))("ATBB" + pick(r, ALNUM, 32))),
    Shape("git-remote-with-token", "vcs", lambda r: (lambda k: (f"git clone https://oauth2:{k}@gitlab.example.com/g/p.git", k))(
        pick(r, ALNUM, 24))),
    Shape("npm-token", "vcs", lambda r: (lambda k: (f"npm token {k}", k))("npm_" + pick(r, ALNUM, 36))),
    Shape("npmrc-auth-token", "vcs", lambda r: (lambda k: (f"//registry.npmjs.org/:_authToken={k}", k))(
        pick(r, ALNUM, 32))),
    Shape("pypi-token", "vcs", lambda r: (lambda k: (f"twine upload -p {k}", k))(
        "pypi-AgEIcHlwaS5vcmc" + pick(r, URLSAFE, 60))),
    Shape("docker-hub-pat", "vcs", lambda r: (lambda k: (f"docker token {k}", k))("dckr_pat_" + pick(r, URLSAFE, 27))),
    # AI providers --------------------------------------------------------------------------------------
    Shape("openai-project-key", "ai", lambda r: (lambda k: (f"OPENAI key {k}", k))("sk-proj-" + pick(r, URLSAFE, 48))),
    Shape("anthropic-key", "ai", lambda r: (lambda k: (f"using {k} for claude", k))(
        "sk-ant-api03-" + pick(r, URLSAFE, 90))),
    Shape("huggingface-token", "ai", lambda r: (lambda k: (f"hf login {k}", k))("hf_" + pick(r, ALNUM, 34))),
    # chat ----------------------------------------------------------------------------------------------
    Shape("slack-bot-token", "chat", lambda r: (lambda k: (f"slack bot {k}", k))(
        f"xoxb-{pick(r, string.digits, 12)}-{pick(r, string.digits, 13)}-{pick(r, ALNUM, 24)}")),
    Shape("slack-webhook", "chat", lambda r: (lambda k: (f"post to https://hooks.slack.com/services/{k}", k))(
        f"T{pick(r, UPPER_DIGITS, 8)}/B{pick(r, UPPER_DIGITS, 10)}/{pick(r, ALNUM, 24)}")),
    Shape("discord-webhook", "chat", lambda r: (lambda k: (f"https://discord.com/api/webhooks/{k}", k))(
        f"{pick(r, string.digits, 18)}/{pick(r, URLSAFE, 68)}")),
    Shape("teams-webhook", "chat", lambda r: (lambda k: (f"https://contoso.webhook.office.com/webhookb2/{k}", k))(
        f"{pick(r, HEX, 8)}-{pick(r, HEX, 4)}@{pick(r, HEX, 8)}/IncomingWebhook/{pick(r, HEX, 32)}")),
    Shape("telegram-bot-token", "chat", lambda r: (lambda k: (f"bot {k}", k))(
        f"{pick(r, string.digits, 10)}:AA{pick(r, URLSAFE, 33)}")),
    # payments and e-mail ---------------------------------------------------------------------------------
    Shape("stripe-secret-key", "payment", lambda r: (lambda k: (f"stripe {k}", k))("sk_live_" + pick(r, ALNUM, 24))),
    Shape("stripe-restricted-key", "payment", lambda r: (lambda k: (f"stripe {k}", k))("rk_live_" + pick(r, ALNUM, 24))),
    Shape("stripe-webhook-secret", "payment", lambda r: (lambda k: (f"endpoint secret {k}", k))(
        "whsec_" + pick(r, ALNUM, 32))),
    Shape("square-access-token", "payment", lambda r: (lambda k: (f"square {k}", k))("sq0atp-" + pick(r, URLSAFE, 22))),
    Shape("braintree-token", "payment", lambda r: (lambda k: (f"bt {k}", k))(
        f"access_token$production${pick(r, HEX, 16)}${pick(r, HEX, 32)}")),
    Shape("shopify-token", "payment", lambda r: (lambda k: (f"shop {k}", k))("shpat_" + pick(r, HEX, 32))),
    Shape("sendgrid-key", "mail", lambda r: (lambda k: (f"sendgrid {k}", k))(
        f"SG.{pick(r, URLSAFE, 22)}.{pick(r, URLSAFE, 43)}")),
    Shape("mailgun-key", "mail", lambda r: (lambda k: (f"mailgun {k}", k))("key-" + pick(r, ALNUM, 32))),
    Shape("mailchimp-key", "mail", lambda r: (lambda k: (f"mailchimp {k}", k))(pick(r, HEX, 32) + "-us14")),
    Shape("twilio-api-key", "mail", lambda r: (lambda k: (f"twilio {k}", k))("SK" + pick(r, HEX, 32))),
    # tokens --------------------------------------------------------------------------------------------------
    Shape("jwt", "token", lambda r: (lambda k: (f"cookie session={k}; Path=/", k.split(".")[2]))(
        ".".join(base64.urlsafe_b64encode(p).decode().rstrip("=") for p in (
            b'{"alg":"HS256","typ":"JWT"}', json.dumps({"sub": pick(r, string.digits, 8)}).encode(),
            r.randbytes(32))))),
    Shape("bearer-opaque", "token", lambda r: (lambda k: (f"curl -H 'Authorization: Bearer {k}' api", k))(
        pick(r, URLSAFE, 40))),
    Shape("basic-auth-header", "token", lambda r: (lambda k: (f"Authorization: Basic {k}", k))(
        base64.b64encode(f"deploy:{pick(r, ALNUM, 14)}".encode()).decode())),
    Shape("github-token-scheme", "token", lambda r: (lambda k: (f"-H \"Authorization: token {k}\"", k))(
        pick(r, HEX, 40))),
    Shape("x-api-key-header", "token", lambda r: (lambda k: (f"X-Api-Key: {k}", k))(pick(r, ALNUM, 32))),
    Shape("vault-token", "token", lambda r: (lambda k: (f"VAULT {k}", k))("hvs." + pick(r, URLSAFE, 90))),
    Shape("age-secret-key", "token", lambda r: (lambda k: (f"age key {k}", k))(
        "AGE-SECRET-KEY-1" + pick(r, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58))),
    Shape("databricks-token", "token", lambda r: (lambda k: (f"dbx {k}", k))("dapi" + pick(r, HEX, 32))),
    Shape("private-tag", "token", lambda r: (lambda k: (f"note <private>{k}</private> end", k))(pick(r, ALNUM, 16))),
    # private keys ----------------------------------------------------------------------------------------
    Shape("rsa-private-key", "key", lambda r: pem(r, "RSA PRIVATE KEY")),
    Shape("ec-private-key", "key", lambda r: pem(r, "EC PRIVATE KEY")),
    Shape("openssh-private-key", "key", lambda r: pem(r, "OPENSSH PRIVATE KEY")),
    Shape("pkcs8-encrypted-key", "key", lambda r: pem(r, "ENCRYPTED PRIVATE KEY")),
    Shape("pgp-private-key-block", "key", lambda r: (lambda b: (
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{b[:64]}\n{b[64:128]}\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
        b[70:110]))(base64.b64encode(r.randbytes(120)).decode())),
    Shape("putty-private-key", "key", lambda r: (lambda b: (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me\nPublic-Lines: 2\nAAAA\nBBBB\n"
        f"Private-Lines: 1\n{b}\nPrivate-MAC: {pick(r, HEX, 64)}", b))(pick(r, B64, 44))),
    # connection strings ----------------------------------------------------------------------------------
    Shape("postgres-url-at-in-password", "connection", lambda r: (lambda p: (
        f"DATABASE_URL=postgresql://app:{p}@db.internal:5432/prod", p))("p@" + pick(r, ALNUM, 8) + "@x")),
    Shape("mysql-url-colon-hash", "connection", lambda r: (lambda p: (f"mysql://root:{p}@127.0.0.1/app", p))(
        pick(r, ALNUM, 6) + ":#!" + pick(r, ALNUM, 4))),
    Shape("mongodb-srv-url", "connection", lambda r: (lambda p: (
        f"mongodb+srv://admin:{p}@cluster0.abcde.mongodb.net/?retryWrites=true", p))(pick(r, ALNUM, 16))),
    Shape("redis-url-no-user", "connection", lambda r: (lambda p: (f"redis://:{p}@cache:6379/0", p))(pick(r, ALNUM, 20))),
    Shape("adonet-password-with-spaces", "connection", lambda r: (lambda p: (
        f"Server=tcp:db,1433;Database=app;User Id=sa;Password={p};Encrypt=true", p))(
        f"Str0ng {pick(r, ALNUM, 5)} w@rd")),
    Shape("jdbc-query-password", "connection", lambda r: (lambda p: (
        f"jdbc:postgresql://h/db?user=app&password={p}&ssl=true", p))(pick(r, ALNUM, 12))),
    # .env lines and assignments -------------------------------------------------------------------------
    Shape("env-db-pass", "env", lambda r: (lambda p: (f"DB_PASS={p}", p))(pick(r, ALNUM, 12))),
    Shape("env-secret-key", "env", lambda r: (lambda p: (f"SECRET_KEY={p}", p))(pick(r, ALNUM + "!@#%^", 40))),
    Shape("env-stripe-key-plain", "env", lambda r: (lambda p: (f"export PAYMENTS_KEY={p}", p))(pick(r, ALNUM, 30))),
    Shape("env-github-token", "env", lambda r: (lambda p: (f"export GITHUB_TOKEN={p}", p))(pick(r, ALNUM, 40))),
    Shape("yaml-quoted-password-spaces", "env", lambda r: (lambda p: (f'password: "{p}"', p))(
        f"correct horse {pick(r, string.ascii_lowercase, 6)} staple")),
    Shape("python-short-password", "env", lambda r: (lambda p: (f"connect(host='db', password='{p}')", p))(
        "Zq" + pick(r, string.digits, 3))),
    Shape("password-with-at-sign", "env", lambda r: (lambda p: (f"password={p}", p))(f"p@ss{pick(r, ALNUM, 6)}@2024")),
    Shape("ini-passphrase", "env", lambda r: (lambda p: (f"passphrase = {p}", p))(pick(r, ALNUM, 18))),
    # command-line flags ---------------------------------------------------------------------------------------
    Shape("mysql-p-flag", "cli", lambda r: (lambda p: (f"mysql -u root -p{p} -h db app", p))(pick(r, ALNUM, 10))),
    Shape("mysqldump-p-flag", "cli", lambda r: (lambda p: (f"mysqldump -uadmin -p'{p}' app > dump.sql", p))(
        pick(r, ALNUM, 11))),
    Shape("pgpassword-env", "cli", lambda r: (lambda p: (f"PGPASSWORD={p} psql -h db -U app", p))(pick(r, ALNUM, 14))),
    Shape("curl-user-pass", "cli", lambda r: (lambda p: (f"curl -u admin:{p} https://api.example.com/x", p))(
        pick(r, ALNUM, 13))),
    Shape("sshpass", "cli", lambda r: (lambda p: (f"sshpass -p {p} ssh deploy@host", p))(pick(r, ALNUM, 12))),
    Shape("redis-cli-a", "cli", lambda r: (lambda p: (f"redis-cli -h cache -a {p} ping", p))(pick(r, ALNUM, 16))),
    Shape("sqlcmd-P-quoted", "cli", lambda r: (lambda p: (f"sqlcmd -S db -U sa -P '{p}' -Q 'select 1'", p))(
        f"P@ss {pick(r, ALNUM, 6)}")),
    Shape("docker-login-p", "cli", lambda r: (lambda p: (f"docker login -u bot -p {p} registry.example.com", p))(
        pick(r, ALNUM, 20))),
    Shape("long-password-flag", "cli", lambda r: (lambda p: (f"./deploy --db-password={p} --verbose", p))(
        pick(r, ALNUM, 15))),
    Shape("openssl-pass-flag", "cli", lambda r: (lambda p: (f"openssl rsa -in k.pem -passin pass:{p}", p))(
        pick(r, ALNUM, 12))),
    # JSON fields ---------------------------------------------------------------------------------------------
    Shape("json-password", "json", lambda r: (lambda p: (json.dumps({"user": "app", "password": p}), p))(
        pick(r, ALNUM, 9))),
    Shape("json-api-key", "json", lambda r: (lambda p: (json.dumps({"apiKey": p, "region": "eu"}), p))(
        pick(r, ALNUM, 32))),
    Shape("json-client-secret", "json", lambda r: (lambda p: (json.dumps({"client_id": "abc", "client_secret": p}), p))(
        pick(r, URLSAFE, 30))),
    Shape("docker-config-auth", "json", lambda r: (lambda p: (json.dumps(
        {"auths": {"registry.example.com": {"auth": p}}}), p))(
        base64.b64encode(f"bot:{pick(r, ALNUM, 16)}".encode()).decode())),
]


def corpus(seed: int = 15) -> list[tuple[Shape, str, str]]:
    """(shape, text, body) for every shape, with a fixed seed."""
    rng = random.Random(seed)
    return [(shape, *shape.make(rng)) for shape in SHAPES]
