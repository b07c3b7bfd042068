"""Which addresses may be live links: those whose real host is one the admins trust.

    host(address)          the host an address really leads to (a URL, a bare domain, an e-mail address),
                           in one form: NFKC, lower case, punycode decoded, no trailing dot; None when it
                           leads nowhere a browser would go or could be read two ways
    TrustedHosts(hosts)    the hosts admins trust (``LINK_DOMAINS``); each trusts itself and its subdomains
    source_hosts(places)   the hosts of the sources' own web addresses (the default when none are listed)

Hosts are compared exactly in that one form, never folded: a look-alike is another host. A Cyrillic "е"
in "еxample.com" (which ``core.text.fold`` reads as "example.com", rightly for a phrase check) or its
punycode "xn--xample-2of.com" never passes for example.com, nor does "example.com.evil.example" or a
path such as "evil.example/example.com".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import unquote, urlsplit

from core.text import normalise

_WEB = ("http", "https")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):(//)?")
_HOST_PORT = re.compile(r"[^/:?#]+:\d*(?:[/?#]|$)")  # example.com:8080/x is a host, not the scheme "example.com"
_ASCII_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC = re.compile(r"0x[0-9a-f]*|\d+")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})  # ideographic full stops, read as dots


def host(address: str) -> str | None:
    """The host ``address`` leads to: an http(s) URL's, a bare domain's (``www.example.com/x``), an e-mail
    address's (with or without ``mailto:``). None for any other scheme and whenever two parsers could
    disagree: user info (``https://trusted@evil``), a backslash, several recipients, a malformed name."""
    text = normalise(address).strip().translate(_DOTS)
    if "\\" in text:
        return None  # browsers read "\" as "/", Python's parser does not: the host would depend on the reader
    scheme = _SCHEME.match(text.lower())
    if scheme and (scheme.group(2) or not _HOST_PORT.match(text)):  # a scheme, not host:port
        name, slashes = scheme.groups()
        if name == "mailto" and not slashes:
            return _mail_host(text[scheme.end():].split("?", 1)[0])
        if name not in _WEB or not slashes:
            return None
    elif "@" in text.split("/", 1)[0]:
        return _mail_host(text)
    else:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises for a port that is not a number below 65536
    except ValueError:
        return None
    if "@" in parts.netloc or not parts.hostname:
        return None  # user info in a link an answer shows is a trick, not a need
    return _canonical(parts.hostname, bracketed=parts.netloc.startswith("["))


def _mail_host(address: str) -> str | None:
    local, at, domain = address.partition("@")
    if not (local and at) or "@" in domain or "," in domain:
        return None
    return _canonical(domain)


def _canonical(name: str, bracketed: bool = False) -> str | None:
    """``name`` percent-decoded (as browsers do), NFKC, lower case, without its trailing dot, punycode labels
    decoded and each label checked; an IP address in its usual form."""
    name = normalise(unquote(name)).translate(_DOTS).lower().removesuffix(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        if bracketed:
            return None
    labels = name.split(".")
    if not name or len(name) > 253 or _NUMERIC.fullmatch(labels[-1]):
        return None  # browsers read 127.1, 0x7f.1 and 2130706433 as IP addresses: none is a name to trust
    decoded = []
    for label in labels:
        try:
            if label.isascii() and not label.startswith("xn--"):
                if not _ASCII_LABEL.fullmatch(label):
                    return None
                decoded.append(label)
            else:  # IDNA both ways: xn--… decoded (round trip checked), a Unicode label validated
                ascii_form = label.encode("idna")
                if len(ascii_form) > 63:
                    return None
                decoded.append(ascii_form.decode("idna").lower())
        except UnicodeError:
            return None
    return ".".join(decoded)


@dataclass(frozen=True)
class TrustedHosts:
    """The hosts whose addresses may be live links; each trusts itself and its subdomains (listing
    ``example.com`` trusts ``docs.example.com``), an IP address only itself. Empty: none."""

    hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        canonical = []
        for entry in self.hosts:
            found = host(entry)
            if not found:
                raise ValueError(f"{entry!r} is not a host name: write it as docs.example.com")
            canonical.append(found)
        object.__setattr__(self, "hosts", tuple(dict.fromkeys(canonical)))

    def trusts(self, address: str) -> bool:
        """Whether ``address`` (URL, bare domain or e-mail address) leads to a trusted host."""
        found = host(address)
        if not found:
            return False
        if _is_ip(found):
            return found in self.hosts
        return any(found == name or (found.endswith("." + name) and not _is_ip(name)) for name in self.hosts)


def source_hosts(places: Iterable[str]) -> tuple[str, ...]:
    """The hosts of the http(s) addresses among the sources' places (``KB_SOURCES`` entries; folders have
    none), in order, once each: what a web or wiki source's own links lead to."""
    found = (host(place) for place in places if place.strip().lower().startswith(("http://", "https://")))
    return tuple(dict.fromkeys(h for h in found if h))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
