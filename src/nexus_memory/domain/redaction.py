"""Secret redaction, applied before anything is stored: content, context, labels, session keys,
metadata (values and keys), hook payloads, transcripts and imports.

Three kinds of rule (docs/security.md says why these, and how they compare with detect-secrets
and gitleaks' rule set on coverage, false alarms and cost):

- **shapes**: credentials with a recognisable form (provider prefixes such as `ghp_`, `sk-ant-`,
  `xoxb-`, `SG.`, webhook URLs, JWTs, PEM/PGP/SSH/PuTTY private keys), replaced whole;
- **context**: a value made secret by what stands before it: `password = ...`, `"api_key": ...`,
  `DB_PASS=...`, `--password X`, `mysql -pX`, `curl -u user:pass`, `scheme://user:pass@host`,
  `Password=...;` in connection strings, `Authorization: ...`, a 40-character AWS secret after
  `aws` or an access key id. Only the value goes: the name stays, so the memory still says what
  was there;
- **keys of JSON objects** (`redact_value`): the string value of a key named like a secret
  (`password`, `db_password`, `apiKey`, `client_secret`) is replaced whatever its shape.

Names come in two strengths: strong names (password, secret, private key, credentials) take any
value but a placeholder (`null`, `${VAR}`, `<password>`, `os.environ[...]`, a type such as `str`,
a variable such as `args.password`); weak names (token, api key, access key, auth) take values of
8 or more characters that are not numbers and do not repeat the name (`token = next_token`).

Cost: Python's regex engine is fast on a pattern that starts with a literal and about twenty
times slower on an alternation or a case-insensitive pattern, which it tries at every position.
So every shape starts with its literal prefix, case-insensitive rules run only when their literal
is in the lower-cased text, and names are found with `str.find` and then matched in place.
Text holding none of the literals costs one `lower()` and a few dozen substring searches.
Redaction is idempotent, and every rule is bounded (no unbounded repetition before a literal),
so hostile text costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[REDACTED]"


class _Lazy:
    """A pattern compiled on first use: the hook's fast path and `nexus --help` import this module, and
    compiling every rule up front cost them about 10 ms."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source, self.flags = source, flags
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return getattr(self._compiled, name)
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_KEY_CHARS = _WORD | {".", "-"}

# --------------------------------------------------------------------------------------- shapes
# (literals one of which must be in the text, case-sensitive; the pattern). A pattern that starts
# with its literal needs no separate check: the engine's own prefix search is as fast.
_SHAPE_SOURCES: list[tuple[tuple[str, ...], str]] = [
    # cloud providers
    ((), r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|ROA|PKA|SCA)[0-9A-Z]{16}(?![0-9A-Za-z])"),
    ((), r"AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
    ((), r"GOCSPX-[0-9A-Za-z_\-]{24,40}"),
    ((), r"ya29\.[0-9A-Za-z_\-]{20,}"),
    ((), r"1//0[0-9A-Za-z_\-]{40,}"),
    ((), r"LTAI[0-9A-Za-z]{12,20}(?![0-9A-Za-z])"),
    ((), r"do[opr]_v1_[a-f0-9]{64}"),
    (("Q~",), r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}"),  # Azure AD client secret
    (("sig=",), r"(?<=[?&])sig=[A-Za-z0-9%+/=]{20,}"),  # Azure shared access signature
    # source hosting
    ((), r"gh[pousr]_[A-Za-z0-9]{30,}"),
    ((), r"github_pat_[A-Za-z0-9_]{40,}"),
    ((), r"gl(?:pat|dt|rt|ptt|ft|soat|cbt|imt|agent|oas)-[A-Za-z0-9_\-]{20,}"),
    ((), r"ATBB[A-Za-z0-9_=.\-]{28,}"),
    ((), r"ATATT3[A-Za-z0-9_=\-]{60,}"),
    # AI providers and model hubs
    ((), r"sk-(?:ant-|proj-|live-|test-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),
    ((), r"hf_[A-Za-z0-9]{30,}"),
    ((), r"r8_[A-Za-z0-9]{30,}"),
    ((), r"gsk_[A-Za-z0-9]{40,}"),
    # chat: tokens and incoming webhooks
    ((), r"xox[abposre]-[A-Za-z0-9\-]{10,}"),
    ((), r"xapp-\d-[A-Za-z0-9\-]{10,}"),
    ((), r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{8,}"),
    (("discord",), r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]+"),
    ((), r"\.webhook\.office\.com/[^\s\"'<>]+"),
    ((), r"outlook\.office(?:365)?\.com/webhook/[^\s\"'<>]+"),
    ((), r"hooks\.zapier\.com/hooks/catch/[^\s\"'<>]+"),
    ((), r"chat\.googleapis\.com/v1/spaces/[^\s\"'<>]*key=[^\s\"'<>]+"),
    ((":AA",), r"\d{8,10}:AA[0-9A-Za-z_\-]{33}(?![0-9A-Za-z_\-])"),  # Telegram bot
    # payments and e-mail
    ((), r"[spr]k_(?:live|test)_[A-Za-z0-9]{10,}"),
    ((), r"whsec_[A-Za-z0-9+/=]{20,}"),
    ((), r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,50}"),
    ((), r"key-[0-9a-zA-Z]{32}(?![0-9a-zA-Z])"),
    (("-us",), r"[0-9a-f]{32}-us\d{1,2}(?![0-9a-z])"),
    ((), r"SK[0-9a-fA-F]{32}(?![0-9a-zA-Z])"),
    ((), r"sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}"),
    ((), r"EAAA[A-Za-z0-9_\-+=]{60}"),
    ((), r"access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}"),
    ((), r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    # registries, infrastructure, SaaS
    ((), r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    ((), r"pypi-[A-Za-z0-9_\-]{50,}"),
    ((), r"dckr_pat_[A-Za-z0-9_\-]{20,}"),
    ((), r"hv[sb]\.[A-Za-z0-9_\-]{24,}"),
    ((), r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"),
    ((), r"dapi[a-f0-9]{32}(?:-\d)?"),
    ((), r"lin_api_[A-Za-z0-9]{40}"),
    ((), r"ntn_[0-9]{11}[A-Za-z0-9]{35}"),
    ((), r"secret_[A-Za-z0-9]{43}(?![A-Za-z0-9])"),
    ((), r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    ((), r"sntry[su]_[A-Za-z0-9=_+/\-]{40,}"),
    ((), r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    ((), r"glc_[A-Za-z0-9+/]{32,}={0,2}"),
    ((), r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    ((), r"NRAK-[A-Z0-9]{27}"),
    ((), r"HRKU-[A-Za-z0-9_\-]{20,}"),
    ((), r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-=.]{32,}"),
    ((), r"figd_[A-Za-z0-9_\-]{40,}"),
    ((), r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
    ((), r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}"),
    ((), r"EAACEdEose0cBA[0-9A-Za-z]+"),
    # JSON Web Tokens
    ((), r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
]

# --------------------------------------------------------------------------------------- names
_STRONG = (r"pass(?:word|wd|phrase|code)?|pwd|secret(?:[_\-]?key)?|client[_\-]?secret|private[_\-]?key"
           r"|credentials?|account[_\-]?key|shared[_\-]?access[_\-]?key|master[_\-]?key|encryption[_\-]?key"
           r"|signing[_\-]?key")
_WEAK = (r"token|api[_\-]?key|apikey|access[_\-]?key|auth[_\-]?key|auth[_\-]?token|auth|authorization"
         r"|api[_\-]?secret|webhook[_\-]?url")
_SUFFIX = r"(?:[_\-.]?(?:base|value|val|b64|hex))?"
#: The words every name holds (found with str.find; a name is then matched around each one).
_ROOTS = ("pass", "pwd", "secret", "token", "key", "auth", "credential")
#: Short names a longer word may end with: `bypass`, `oauth`, `OLDPWD` are not secrets.
_NEEDS_BOUNDARY = frozenset({"pass", "pwd", "auth", "token"})

_KEY_NAME = _Lazy(rf"(?P<prefix>[\w.\- ]{{0,48}}?)(?P<name>{_STRONG}|{_WEAK}){_SUFFIX}", re.I)
_STRONG_NAME = _Lazy(rf"(?:{_STRONG}){_SUFFIX}$", re.I)
_SCHEME = _Lazy(r"(?i)(?:bearer|basic|token|digest)\s+")

_PLACEHOLDERS = frozenset({
    "", "null", "none", "nil", "true", "false", "undefined", "yes", "no", "required", "optional",
    "str", "string", "int", "bool", "any", "bytes", "secretstr", "text", "the", "a", "an", "is", "are", "was",
    "to", "of", "in", "on", "for", "and", "or", "not", "it", "this", "that", "see", "use", "set", "empty",
    "here", "below", "above", "same", "missing", "unset", "redacted", "hidden", "masked", "bearer", "basic",
    "digest", "...", "…",
})
_IDENT = _Lazy(r"[A-Za-z_][\w.]*")
_DOTTED = _Lazy(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _has_root(value: str) -> bool:
    low = value.lower()
    return any(root in low for root in _ROOTS)


def _is_placeholder(value: str, following: str = "", *, quoted: bool = False) -> bool:
    """A value that names a secret without holding one: a type, a variable, a template, a mask."""
    v = value.strip()
    if v.lower() in _PLACEHOLDERS or v.strip("*xX•.-_") == "" or v.startswith(REDACTED[:-1]):
        return True
    if v[0] in "$%<{" or v.startswith(("os.environ", "process.env", "getenv", "env(", "ENV[")):
        return True
    if quoted:
        return False
    if _DOTTED.fullmatch(v) or (following[:1] in ("(", "[", ".") and following and _IDENT.fullmatch(v)):
        return True  # args.password, get_password(), settings["password"]
    # a variable named like a secret: token = next_token, auth=authConfig, password = password
    return _IDENT.fullmatch(v) is not None and _has_root(v) and (
        "_" in v or re.search(r"[a-z][A-Z]", v) is not None or v.lower() in _ROOTS or v.lower() == "password")


def _secret_value(name: str, value: str, following: str = "", *, quoted: bool = False, keyed: bool = False) -> bool:
    """Would `value`, given for `name`, be a credential? `keyed`: the value of a JSON key of that name,
    where the name is certain, so a weak name takes short values too (`{"token": "Zq672"}`)."""
    bare = _SCHEME.sub("", value, count=1) if _SCHEME.match(value) else value
    if _is_placeholder(value, following, quoted=quoted) or (bare != value and _is_placeholder(bare)):
        return False
    if _STRONG_NAME.search(name.strip("\"' ")):
        # `PWD=/home/me` is the shell's working directory
        return not (name.lower().strip("\"' ") == "pwd" and value[:1] in "/~")
    if bare.replace(".", "").replace("-", "").isdigit() or (len(bare) < 8 and not keyed):
        return False
    return not (quoted and _has_root(bare) and " " not in bare)  # token="my_token" in an example


def _bounded_name(prefix: str, name: str) -> bool:
    """`DB_PASS`, `db-pass`, `dbPass` and `pass` name a password; `bypass` does not."""
    if name.lower() not in _NEEDS_BOUNDARY or not prefix:
        return True
    last = prefix[-1]
    return last in "_-. " or (last.islower() and name[:1].isupper())


def is_secret_key(key: str) -> bool:
    """A JSON object key whose string value is a credential whatever its shape (`db_password`)."""
    m = _KEY_NAME.fullmatch(key.strip())
    return m is not None and _bounded_name(m.group("prefix"), m.group("name"))


# --------------------------------------------------------------------------------------- context rules
_QUOTED = r"\"(?:[^\"\\\n]|\\.){0,300}\"|'[^'\n]{0,300}'"
_BARE = r"[^\s\"',;&()\[\]{}<>]{1,300}"
_NAME_AT = _Lazy(
    rf"(?P<name>{_STRONG}|{_WEAK}){_SUFFIX}(?P<sep>[\"']?\s{{0,4}}(?:=>|:=|=|:)\s{{0,4}})(?P<val>{_QUOTED}|{_BARE})",
    re.I)
_ENV_KEY = _Lazy(rf"(?<![\w.\-$])(?P<key>[A-Z][A-Z0-9_]{{0,60}}_KEY=)(?P<val>{_QUOTED}|[^\s\"'#]{{1,300}})")
_CONN_STRING = _Lazy(
    r"(?i)(?<![\w.\-])(?P<key>(?:password|pwd|accountkey|sharedaccesskey|sharedaccesssignature)\s{0,4}=\s{0,4})"
    r"(?P<val>[^;\"'\r\n]{1,200}?)(?=\s{0,4};)")
_URL_PASSWORD = _Lazy(r"(?P<key>://[^\s:/@\"'<>]{0,200}:)(?P<val>[^\s/\"'<>]{1,300})"
                           r"(?=@[^\s@/\"'<>]{1,300}(?:[/?#:\s\"'<>]|$))")
_PRIVATE_BLOCK = _Lazy(r"(?i)<private>.*?(?:</private>|$)", re.S)
_PRIVATE_KEY = _Lazy(
    r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)"
    r"|PuTTY-User-Key-File-\d+:.*?(?:Private-MAC:\s*[0-9a-fA-F]+|$)", re.S)
_BEARER = _Lazy(r"(?i)\b(?P<key>bearer\s+)(?P<val>[A-Za-z0-9._~+/\-]{12,}=*)")
_BASIC = _Lazy(r"(?i)\b(?P<key>basic\s+)(?P<val>[A-Za-z0-9+/]{10,}={0,2})(?![A-Za-z0-9+/=])")
_AUTH_HEADER = _Lazy(
    r"(?i)(?<![\w\-])(?P<key>(?:proxy-)?authorization[\"']?\s{0,4}[:=]\s{0,4}[\"']?"
    r"(?:(?:token|bearer|basic|digest|apikey|sso-key|key|otp)\s+)?)(?P<val>[^\s\"',;]{6,})")
_AWS_CONTEXT = _Lazy(
    r"(?i)(?P<key>\b(?:aws|amazon|(?:AKIA|ASIA)[0-9A-Z]{16})\b[^\n]{0,80}?)"
    r"(?<![A-Za-z0-9/+=])(?P<val>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_FLAG = _Lazy(r"(?i)(?P<key>(?<![\w\-])--(?!no-)[\w\-]{0,30}?(?:password|passwd|pass|pwd|token|api-?key|secret"
                   r"|access-key|credentials?)(?P<sep>=|\s+))(?P<val>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'-]\S{0,300})")
#: (literals, lower-cased, one of which must be in the text; the rule)
_CLI: list[tuple[tuple[str, ...], _Lazy]] = [
    # mysql -pSECRET (no space: with a space -p asks for the password)
    (("mysql", "mariadb"), _Lazy(
        r"(?i)(?P<key>\b(?:mysql\w*|mariadb\w*)\b[^\n|;&]{0,200}?\s-p)(?P<val>[^\s'\"-][^\s'\"]*|'[^'\n]*'|\"[^\"\n]*\")")),
    (("sshpass",), _Lazy(r"(?i)(?P<key>\bsshpass\b[^\n|;&]{0,100}?\s-p\s*)(?P<val>[^\s-]\S*)")),
    (("redis-cli",), _Lazy(r"(?i)(?P<key>\bredis-cli\b[^\n|;&]{0,200}?\s(?:-a|--pass)\s+)(?P<val>[^\s-]\S*)")),
    (("sqlcmd", "bcp"), _Lazy(
        r"(?P<key>\b(?:sqlcmd|bcp)\b[^\n|;&]{0,200}?\s-P\s*)(?P<val>'[^'\n]*'|\"[^\"\n]*\"|[^\s-]\S*)")),
    (("docker",), _Lazy(r"(?i)(?P<key>\bdocker\s+login\b[^\n|;&]{0,200}?\s-p\s+)(?P<val>[^\s-]\S*)")),
    (("curl", "wget"), _Lazy(r"(?i)(?P<key>\b(?:curl|wget)\b[^\n|;&]{0,300}?\s(?:-u|--user)\s*['\"]?"
                                  r"[^:\s'\"]{1,100}:)(?P<val>[^\s'\"]{1,200})")),
    (("-pass",), _Lazy(r"(?i)(?P<key>\s-pass(?:in|out)?\s+(?:pass|env):)(?P<val>\S{1,200})")),
]

Rule = Callable[[str, str], str]


def _keep_name(m: re.Match[str]) -> str:
    return m.group("key") + _quoted_redacted(m.group("val"))


def _quoted_redacted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + REDACTED + value[0]
    return REDACTED


def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1], True
    return value, False


def _value_only(m: re.Match[str]) -> str:
    value, quoted = _unquote(m.group("val"))
    return m.group(0) if _is_placeholder(value, quoted=quoted) else _keep_name(m)


def _flag(m: re.Match[str]) -> str:
    value, quoted = _unquote(m.group("val"))
    if _is_placeholder(value, quoted=quoted):
        return m.group(0)
    if m.group("sep") != "=" and not quoted and value.isalpha() and value.islower() and len(value) <= 12:
        return m.group(0)  # "the --password option": prose, not a command
    return _keep_name(m)


def _aws_context(m: re.Match[str]) -> str:
    value = m.group("val")
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    return m.group("key") + REDACTED if mixed else m.group(0)


def _auth_header(m: re.Match[str]) -> str:
    return m.group(0) if _is_placeholder(m.group("val")) else m.group("key") + REDACTED


def _basic(m: re.Match[str]) -> str:
    return _keep_name(m) if re.search(r"[\d+/=]", m.group("val")) else m.group(0)  # "basic Authentication"


def _sub(pattern: _Lazy, repl: str | Callable[[re.Match[str]], str]) -> Rule:
    return lambda text, _low: pattern.sub(repl, text)


def _guarded(literals: Iterable[str], rule: Rule, *, lower: bool = True) -> Rule:
    """Run `rule` only when one of `literals` is in the text (the lower-cased text when `lower`)."""
    lits = tuple(literals)

    def run(text: str, low: str) -> str:
        hay = low if lower else text
        for lit in lits:
            if lit in hay:
                return rule(text, low)
        return text
    return run


#: Shapes that are the host part of a URL: whatever precedes them, they go.
_HOST_FRAGMENTS = ("hooks", "\\.webhook", "discord", "outlook", "chat\\.", "(?<=")


def _literal_prefix(source: str) -> str:
    """The plain characters a pattern starts with (its cheapest guard)."""
    out = []
    i = 0
    while i < len(source):
        c = source[i]
        if c == "\\" and i + 1 < len(source) and source[i + 1] in ".$-/":
            out.append(source[i + 1])
            i += 2
            continue
        if not (c.isalnum() or c in "_-/:~"):
            break
        out.append(c)
        i += 1
    text = "".join(out)
    # a quantifier or alternative right after the last character makes it optional
    return text[:-1] if i < len(source) and source[i] in "?*{|" else text


def _shape(literals: tuple[str, ...], source: str) -> Rule:
    pattern = _Lazy(source)
    if not literals and len(_literal_prefix(source)) >= 2:
        literals = (_literal_prefix(source),)

    inside_url = source.startswith(_HOST_FRAGMENTS)

    def repl(m: re.Match[str]) -> str:
        start = m.start()
        if start and not inside_url and m.string[start - 1] in _WORD:  # the tail of a longer word
            return m.group(0)
        return REDACTED
    rule = _sub(pattern, repl)
    return _guarded(literals, rule, lower=False) if literals else rule


#: Every shape holds a run of at least this many token characters; text without one skips them all.
_TOKEN_RUN = _Lazy(r"[\w\-.+/=~$:%@]{12}")


def _shapes(rules: list[Rule]) -> Rule:
    def run(text: str, low: str) -> str:
        if not _TOKEN_RUN.search(text):
            return text
        for rule in rules:
            text = rule(text, low)
        return text
    return run


def _assignments(text: str, low: str) -> str:
    """`name = value` / `"name": "value"` / `name: value` for secret-looking names (see module doc)."""
    starts: set[int] = set()
    for root in _ROOTS:
        at = low.find(root)
        while at >= 0:
            starts.add(at)
            at = low.find(root, at + 1)
    if not starts:
        return text
    pieces: list[str] = []
    done = 0
    for root_at in sorted(starts):
        if root_at < done:
            continue
        key_start = root_at
        while key_start > 0 and root_at - key_start < 48 and text[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        if key_start > 0 and text[key_start - 1] in _KEY_CHARS:
            continue  # an identifier longer than any name we know
        for name_at in range(max(key_start, root_at - 24), root_at + 1):
            m = _NAME_AT.match(text, name_at)
            if m is None:
                continue
            prefix = text[key_start:name_at]
            value, quoted = _unquote(m.group("val"))
            following = text[m.end():m.end() + 1]  # `(` right after the value: a call, `get_password()`
            name = m.group("name")
            if not _bounded_name(prefix, name):
                break
            if ":" in m.group("sep") and not quoted:
                if text[m.end():m.end() + 3].lstrip()[:1] in ("|", "=", ",", ")") and _IDENT.fullmatch(value):
                    break  # a type annotation: `password: HiddenText | None`
                if name.lower() == "pass" and not prefix and value.isalpha():
                    break  # "first pass: check ..." is prose
            key = text[key_start:m.start("sep")]
            if _secret_value(key, value, following, quoted=quoted) and m.start() >= done:
                pieces.append(text[done:m.start("val")])
                pieces.append(_quoted_redacted(m.group("val")))
                done = m.end()
            break
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


_COMPILED: list[Rule] = []


def _rules() -> list[Rule]:
    """Compiled on first use: `nexus --help` and the hook's fast path never pay for it."""
    if not _COMPILED:
        _COMPILED.extend([
            _guarded(("<private",), _sub(_PRIVATE_BLOCK, REDACTED)),
            _guarded(("-----BEGIN", "PuTTY-User-Key-File"), _sub(_PRIVATE_KEY, REDACTED), lower=False),
            _guarded(("aws", "amazon", "akia", "asia"), _sub(_AWS_CONTEXT, _aws_context)),  # before AKIA goes
            _shapes([_shape(lits, src) for lits, src in _SHAPE_SOURCES]),
            _guarded(("://",), _sub(_URL_PASSWORD, _value_only), lower=False),
            _guarded((";",), _guarded(("password", "pwd", "accountkey", "sharedaccess"),
                                      _sub(_CONN_STRING, _value_only)), lower=False),
            *(_guarded(lits, _sub(rule, _value_only)) for lits, rule in _CLI),
            _guarded(("--",), _guarded(_ROOTS, _sub(_FLAG, _flag)), lower=False),
            _guarded(("bearer",), _sub(_BEARER, _keep_name)),
            _guarded(("basic",), _sub(_BASIC, _basic)),
            _guarded(("authorization",), _sub(_AUTH_HEADER, _auth_header)),
            _assignments,
            _guarded(("_KEY=",), _sub(_ENV_KEY, _value_only), lower=False),
        ])
    return _COMPILED


def _lower(text: str) -> str:
    """Lower-cased with the same length as `text` (so positions match)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)  # e.g. 'İ' lowers to two


def redact_text(text: str) -> str:
    if len(text) < 5:  # the shortest secret we know: `pwd=x`
        return text
    out = text
    low = _lower(out)
    for rule in _rules():
        new = rule(out, low)
        if new is not out and new != out:
            out = new
            low = _lower(out)
    return out


#: The whole pipeline, for tests that compare a fast path with it.
_redact_all = redact_text


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value; the value of a secret-named key goes whole."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = redact_text(k) if isinstance(k, str) else k
            if isinstance(v, str) and isinstance(k, str) and is_secret_key(k) and _secret_value(k, v, quoted=True,
                                                                                                keyed=True):
                out[key] = REDACTED
            else:
                out[key] = redact_value(v)
        return out
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value
