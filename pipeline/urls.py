"""Canonical URLs: the one URL of a page however it was linked (tracking parameters, mobile and AMP copies).

A page's identity across sources and runs: exact dedup (`pipeline.dedup`) matches pages and their versions on it,
and input keys (`pipeline.sources.keys`) are derived from it. Separate from dedup because it is the only part that
parses URLs and depends on courlan, and because sources need it without any duplicate matching.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import courlan

from pipeline.textnorm import escape_controls

_AMP_VIEWER = re.compile(
    r"^https?://(?:[\w-]+\.cdn\.ampproject\.org/[a-z]/|(?:www\.)?google\.[a-z.]+/amp/)(?P<secure>s/)?(?P<rest>.+)$",
    re.IGNORECASE,
)
"""Google's AMP cache (`…cdn.ampproject.org/c/s/host/path`) and viewer (`google.com/amp/s/host/path`) wrap the
publisher's URL; `s/` means it was https."""
_VARIANT_HOST_LABELS = frozenset({"www", "m", "mobile", "amp"})
_AMP_SUFFIX = re.compile(r"\.amp(?=\.html?$|$)", re.IGNORECASE)


def canonical_url(url: str | None) -> str | None:
    """The one URL of a page however it was linked; None for what is not a web URL.

    courlan lower-cases scheme and host, drops the fragment and every query parameter but the few that name
    content (`id`, `p`, `page`, …), which takes tracking (`utm_*`, `?ref=rss`) and the AMP/mobile switches
    (`?amp=1`, `?outputType=amp`, Blogger's `?m=1`) with it. On top of that, the mobile and AMP copies of a
    page map to the desktop page (see `_desktop_host`, `_desktop_path`), Google AMP cache URLs to the
    publisher's, and a trailing slash is dropped.
    """
    if not url:
        return None
    cleaned = courlan.clean_url(_unwrap_amp_viewer(url.strip()))
    checked = courlan.check_url(cleaned) if cleaned else None
    if not checked:
        return None
    page, registered_domain = checked
    parts = urlsplit(page)
    netloc = _desktop_host(parts.netloc, registered_domain)
    desktop = urlunsplit((parts.scheme, netloc, _desktop_path(parts.path), parts.query, ""))
    return escape_controls(courlan.normalize_url(desktop, strict=True, trailing_slash=False))


def url_host(canonical: str | None) -> str | None:
    """The host of a canonical URL (lower case, without port, `www`/`m`/`amp` labels already dropped): what
    `articles.host` holds, and the site name of a page that names none."""
    return (urlsplit(canonical).hostname or None) if canonical else None


def _unwrap_amp_viewer(url: str) -> str:
    wrapped = _AMP_VIEWER.match(url)
    if not wrapped:
        return url
    return f"{'https' if wrapped['secure'] else 'http'}://{wrapped['rest']}"


def _desktop_host(netloc: str, registered_domain: str) -> str:
    """Drop `www`, `m`, `mobile` and `amp` labels, but only among the subdomains: `m.example.com`,
    `amp.theguardian.com` and `en.m.wikipedia.org` lose them, `amp.dev` and `mobile.de` (registered domains
    themselves) keep them. `www.example.com` and `example.com` therefore meet too."""
    host, colon, port = netloc.partition(":")
    if not registered_domain or not host.endswith("." + registered_domain):
        return netloc
    subdomains = host.removesuffix("." + registered_domain).split(".")
    kept = [label for label in subdomains if label not in _VARIANT_HOST_LABELS]
    return ".".join([*kept, registered_domain]) + colon + port


def _desktop_path(path: str) -> str:
    """Drop every path segment `amp` (`/amp/story`, `/news/amp/world-1`, `/story/amp/`) and an `.amp` before
    the extension of the last one (`story.amp.html` → `story.html`, `story.amp` → `story`)."""
    segments = [s for s in path.split("/") if s.lower() != "amp"]
    segments[-1] = _AMP_SUFFIX.sub("", segments[-1])
    return "/".join(segments) or "/"
