"""Lenient reading of SIS error bodies (OneRoster imsx status info, OAuth errors, HTML pages)."""
import json
import re
from html import unescape

from .redact import redact

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAGS = re.compile(r"<[^>]+>")
_FIELDS = {"imsx_codemajor": "codeMajor", "imsx_severity": "severity",
           "imsx_description": "description", "imsx_codeminor": "codeMinor"}


_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)


def load_json(body: bytes, content_type: str = ""):
    """A body's JSON value. UTF-8 (with or without a byte-order mark) and UTF-16/32 are told apart as RFC 8259
    readers do (json.loads on bytes); a body that is none of them is read in the charset its Content-Type declares,
    as an older server's iso-8859-1 or windows-1252 (RFC 8259 8.1 requires UTF-8; no vendor page found names a SIS
    that sends otherwise, so this is leniency, not a vendor fact). Raises UnicodeDecodeError or ValueError."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        declared = _CHARSET.search(content_type or "")
        try:
            text = body.decode(declared.group(1)) if declared else None
        except (LookupError, UnicodeDecodeError):
            text = None
        if text is None:
            raise
    return json.loads(text)


def looks_like_html(body: bytes) -> bool:
    """True for an HTML page (IIS/nginx error pages, login pages)."""
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body")) or b"<html" in head


def html_title(body: bytes) -> str:
    """The page title (or first text) of an HTML page, for error messages."""
    match = _TITLE.search(body[:65536])
    text = match.group(1) if match else body[:2000]
    text = _TAGS.sub(" ", unescape(text.decode("utf-8", "replace")))
    return redact(" ".join(text.split()))[:150]  # masked before it is cut: no half header survives


def _minor(value) -> str:
    """imsx_CodeMinor comes as a string or as nested codeMinorField name/value pairs."""
    if isinstance(value, str):
        return value
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, item in node.items():
                if key.lower().endswith("codeminorfieldvalue") and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return ", ".join(found)


def status_info(payload) -> dict[str, str]:
    """First imsx status info found anywhere (top level, statusInfoSet, imsx_statusInfo), or {}."""
    stack, depth_of = [payload], {id(payload): 0}
    while stack:
        node = stack.pop(0)
        depth = depth_of.get(id(node), 0)
        if isinstance(node, dict):
            info = {}
            for key, value in node.items():
                name = _FIELDS.get(key.lower())
                if name == "codeMinor":
                    info[name] = _minor(value)
                elif name and isinstance(value, (str, int)):
                    info[name] = str(value)
            if info:
                return info
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth < 5:
            for child in children:
                depth_of[id(child)] = depth + 1
                stack.append(child)
    return {}


def describe_body(body: bytes, content_type: str = "") -> str:
    """One short sentence saying what the SIS said in an error body ("" if nothing useful)."""
    if not body or not body.strip():
        return ""
    if looks_like_html(body) or "html" in content_type.lower():
        title = html_title(body)
        return f'The SIS sent a web page titled "{title}".' if title else "The SIS sent a web page."
    try:
        payload = load_json(body, content_type)
    except (UnicodeDecodeError, ValueError):
        text = redact(" ".join(body[:4000].decode("utf-8", "replace").split()))[:200]
        return f'The SIS said: "{text}".'
    info = status_info(payload)
    if info:
        text = info.get("description") or info.get("codeMinor") or info.get("codeMajor", "")
        extra = [f"{k}={info[k]}" for k in ("codeMajor", "codeMinor") if info.get(k) and info[k] != text]
        return redact(f'The SIS said: "{text}"' + (f" ({', '.join(extra)})." if extra else "."))
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        detail = payload.get("error_description") or ""
        return redact(f'The SIS said: "{payload["error"]}{": " + str(detail) if detail else ""}".')
    return ""


def mentions(body: bytes, code: str) -> bool:
    """True when an imsx or OAuth error body carries `code` (e.g. unsupported, insufficient_scope)."""
    try:
        payload = load_json(body)
    except (UnicodeDecodeError, ValueError):
        return False
    info = status_info(payload)
    values = [info.get("codeMajor", ""), info.get("codeMinor", "")]
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        values.append(payload["error"])
    return any(code == part.strip().lower() for v in values for part in v.split(","))
