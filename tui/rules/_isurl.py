"""validator.js `isURL`, the check Typebot uses for URL and file inputs (`packages/lib/src/isURL.ts`:
protocols http/https, protocol required unless the caller says otherwise)."""

from __future__ import annotations

import ipaddress
import re

_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)){3}")
_WRAPPED_IPV6 = re.compile(r"\[([^\]]+)\](?::([0-9]+))?")
_TLD = re.compile(r"([a-z\u00a1-\u00a8\u00aa-\ud7ff\uf900-\ufdcf\ufdf0-\uffef]{2,}|xn[a-z0-9-]{2,})", re.IGNORECASE)
_LABEL = re.compile(r"[a-z_\u00a1-\uffff0-9-]+", re.IGNORECASE)
_FULL_WIDTH = re.compile(r"[\uff01-\uff5e]")


def is_url(
    url: str, *, require_protocol: bool = True, require_tld: bool = True, protocols: tuple[str, ...] = ("https", "http")
) -> bool:
    """True when `url` is a web address by validator.js rules (host must be an FQDN or IP)."""
    if not url or re.search(r"[\s<>]", url) or url.startswith("mailto:") or len(url) > 2083:
        return False
    url = url.split("#", 1)[0].split("?", 1)[0]
    parts = url.split("://")
    if len(parts) > 1:
        if parts[0].lower() not in protocols:
            return False
        rest = "://".join(parts[1:])
    elif require_protocol or url.startswith("//"):
        return False
    else:
        rest = url
    if rest == "":
        return False
    return _valid_authority(rest.split("/", 1)[0], require_tld)


def _valid_authority(authority: str, require_tld: bool) -> bool:
    pieces = authority.split("@")
    if len(pieces) > 1:
        auth = pieces[0]
        if auth == "" or auth.count(":") > 1:
            return False
        user, _, password = auth.partition(":")
        if user == "" and password == "":
            return False
        authority = "@".join(pieces[1:])
    ipv6: str | None = None
    wrapped = _WRAPPED_IPV6.fullmatch(authority)
    if wrapped:
        host, ipv6, port = "", wrapped.group(1), wrapped.group(2)
    else:
        host, _, port = authority.partition(":")
        port = port if ":" in authority else None
    if port:
        if not port.isdigit() or not 0 < int(port) <= 65535:
            return False
    if _IPV4.fullmatch(host) or _is_fqdn(host, require_tld):
        return True
    return ipv6 is not None and _is_ipv6(ipv6)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_fqdn(host: str, require_tld: bool) -> bool:
    """validator.js isFQDN with its defaults (no trailing dot, no underscores, no numeric TLD)."""
    parts = host.split(".")
    tld = parts[-1]
    if require_tld:
        if len(parts) < 2 or not _TLD.fullmatch(tld):
            return False
    if tld.isdigit():
        return False
    for part in parts:
        if len(part) > 63 or not _LABEL.fullmatch(part) or _FULL_WIDTH.search(part):
            return False
        if part.startswith("-") or part.endswith("-") or "_" in part:
            return False
    return True
