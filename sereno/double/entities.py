"""Message text as Telegram processes it: parse modes into entities, trimming, length limits.

:func:`parse_formatted` turns HTML, MarkdownV2 or legacy Markdown into plain text and
``MessageEntity`` dicts (offsets in UTF-16 code units), raising Telegram's "can't parse
entities" 400 where Telegram does. :func:`format_text` and :func:`format_caption` apply a
request's ``parse_mode`` (or explicit entities), trim surrounding whitespace like
Telegram, and enforce :data:`TEXT_LIMIT` / :data:`CAPTION_LIMIT`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from sereno.double.errors import bad_request

__all__ = ["CAPTION_LIMIT", "TEXT_LIMIT", "format_caption", "format_text", "parse_formatted"]

JSONDict = dict[str, Any]

#: Maximum length of a message text after entity parsing.
TEXT_LIMIT: Final = 4096
#: Maximum length of a media caption after entity parsing.
CAPTION_LIMIT: Final = 1024


class _EntityParseError(Exception):
    """Raised when a formatted text cannot be parsed; becomes "can't parse entities"."""


def _u16(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's entity offset unit)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity(kind: str, start: int, end: int, **extra: Any) -> JSONDict | None:
    if end <= start:
        return None
    entity: JSONDict = {"type": kind, "offset": start, "length": end - start}
    entity.update({k: v for k, v in extra.items() if v is not None})
    return entity


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_TAG = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)(.*?)/?\s*$", re.S)
_HTML_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_CHAR_REF = re.compile(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_unescape(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        ref = match.group(1)
        try:
            if ref[:2] in ("#x", "#X"):
                return chr(int(ref[2:], 16))
            if ref.startswith("#"):
                return chr(int(ref[1:]))
        except (ValueError, OverflowError):
            return match.group(0)
        return _HTML_NAMED.get(ref, match.group(0))

    return _HTML_CHAR_REF.sub(repl, value)


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Strip Telegram-HTML markup from ``src``, returning plain text and entities."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i)
            if end < 0:
                raise _EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise _EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
                tag, start, open_attrs = stack.pop()
                if name and name != tag:
                    raise _EntityParseError(
                        f'Unmatched end tag at byte offset {_byte_offset(src, i)}, expected "</{tag}>", found "</{name}>"'
                    )
                entity = _html_entity(tag, open_attrs, start, pos, stack)
                if entity is not None:
                    entities.append(entity)
            else:
                match = _HTML_TAG.match(inner)
                name = match.group(1).lower() if match else ""
                if name not in _HTML_TAGS:
                    raise _EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}')
                attrs: dict[str, str] = {}
                for attr in _HTML_ATTR.finditer(match.group(2) if match else ""):
                    value = next((v for v in attr.groups()[1:] if v is not None), "")
                    attrs[attr.group(1).lower()] = _html_unescape(value)
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _EntityParseError(f'Unsupported start tag "span" at byte offset {_byte_offset(src, i)}')
                stack.append((name, pos, attrs))
            i = end + 1
        elif ch == "&":
            match = _HTML_CHAR_REF.match(src, i)
            if match:
                piece = _html_unescape(match.group(0))
                i = match.end()
            else:
                piece = "&"
                i += 1
            out.append(piece)
            pos += _u16(piece)
        else:
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            piece = src[i:j]
            out.append(piece)
            pos += _u16(piece)
            i = j
    if stack:
        raise _EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


def _html_entity(
    tag: str,
    attrs: dict[str, str],
    start: int,
    end: int,
    stack: list[tuple[str, int, dict[str, str]]],
) -> JSONDict | None:
    kind = _HTML_TAGS[tag]
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language[len("language-") :]
            return None
    if kind == "text_link":
        href = attrs.get("href")
        if not href:
            return None
        return _entity("text_link", start, end, url=href)
    if kind == "pre":
        return _entity("pre", start, end, language=attrs.get("language"))
    if kind == "blockquote":
        expandable = "expandable" in attrs
        return _entity("expandable_blockquote" if expandable else "blockquote", start, end)
    if kind == "custom_emoji":
        return _entity("custom_emoji", start, end, custom_emoji_id=attrs.get("emoji-id"))
    return _entity(kind, start, end)


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MD_ENTITY_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _find_unescaped(src: str, needle: str, start: int) -> int:
    i = start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        if src.startswith(needle, i):
            return i
        i += 1
    return -1


def _unescape_backslashes(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


def _parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram MarkdownV2, enforcing its escaping rules like Telegram does."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, int]] = []
    entities: list[JSONDict] = []

    def emit(piece: str) -> None:
        nonlocal pos
        out.append(piece)
        pos += _u16(piece)

    def close(index: int) -> None:
        kind, start, _ = stack.pop(index)
        entity = _entity(kind, start, pos)
        if entity is not None:
            entities.append(entity)

    def toggle(kind: str, at: int) -> None:
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] == kind:
                close(index)
                return
        stack.append((kind, pos, at))

    def reserved(ch: str) -> _EntityParseError:
        return _EntityParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")

    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                emit(src[i + 1])
                i += 2
                continue
            raise reserved("\\")
        if ch == "`":
            fence = 3 if src.startswith("```", i) else 1
            close_at = _find_unescaped(src, "`" * fence, i + fence)
            if close_at < 0:
                name = "Pre" if fence == 3 else "Code"
                raise _EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(src, i)}")
            body = src[i + fence : close_at]
            language: str | None = None
            if fence == 3:
                first, sep, rest = body.partition("\n")
                if sep and (not first.strip() or " " not in first.strip()):
                    language = first.strip() or None
                    body = rest
            start = pos
            emit(_unescape_backslashes(body))
            entity = _entity("pre" if fence == 3 else "code", start, pos, language=language)
            if entity is not None:
                entities.append(entity)
            i = close_at + fence
            continue
        if ch == ">" and (i == 0 or src[i - 1] == "\n"):
            if not any(kind == "blockquote" for kind, _, _ in stack):
                stack.append(("blockquote", pos, i))
            i += 1
            continue
        if ch == "\n":
            emit("\n")
            if i + 1 < n and src[i + 1] == ">":
                i += 1
                continue
            for index in range(len(stack) - 1, -1, -1):
                if stack[index][0] == "blockquote":
                    kind, start, _ = stack.pop(index)
                    entity = _entity(kind, start, pos - 1)
                    if entity is not None:
                        entities.append(entity)
            i += 1
            continue
        if ch == "*":
            toggle("bold", i)
            i += 1
        elif ch == "_":
            if src.startswith("__", i):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
        elif ch == "~":
            toggle("strikethrough", i)
            i += 1
        elif ch == "|":
            if not src.startswith("||", i):
                raise reserved("|")
            toggle("spoiler", i)
            i += 2
        elif ch == "!" and src.startswith("![", i):
            stack.append(("custom_emoji", pos, i))
            i += 2
        elif ch == "[":
            stack.append(("text_link", pos, i))
            i += 1
        elif ch == "]":
            if not stack or stack[-1][0] not in ("text_link", "custom_emoji"):
                raise reserved("]")
            if not src.startswith("(", i + 1):
                raise reserved("]")
            url_end = _find_unescaped(src, ")", i + 2)
            if url_end < 0:
                raise _EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(src, i + 1)}")
            url = _unescape_backslashes(src[i + 2 : url_end])
            kind, start, _ = stack.pop()
            if kind == "custom_emoji":
                emoji_id = url.split("id=", 1)[-1]
                entity = _entity(kind, start, pos, custom_emoji_id=emoji_id)
            else:
                entity = _entity(kind, start, pos, url=url)
            if entity is not None:
                entities.append(entity)
            i = url_end + 1
        elif ch in _MDV2_RESERVED:
            raise reserved(ch)
        else:
            j = i
            while j < n and src[j] not in _MDV2_RESERVED and src[j] not in "\\\n":
                j += 1
            emit(src[i:j])
            i = j
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0] == "blockquote":
            close(index)
    if stack:
        kind, _, at = stack[-1]
        raise _EntityParseError(
            f"Can't find end of {_MD_ENTITY_NAMES.get(kind, kind)} entity at byte offset {_byte_offset(src, at)}"
        )
    return "".join(out), entities


def _parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Telegram Markdown (``*bold*``, ``_italic_``, code, pre, links)."""
    out: list[str] = []
    pos = 0
    entities: list[JSONDict] = []

    def emit(piece: str) -> None:
        nonlocal pos
        out.append(piece)
        pos += _u16(piece)

    def unclosed(at: int) -> _EntityParseError:
        return _EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(src, at)}")

    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            emit(src[i + 1])
            i += 2
        elif ch in "*_":
            end = src.find(ch, i + 1)
            if end < 0:
                raise unclosed(i)
            start = pos
            emit(src[i + 1 : end])
            entity = _entity("bold" if ch == "*" else "italic", start, pos)
            if entity is not None:
                entities.append(entity)
            i = end + 1
        elif ch == "`":
            fence = 3 if src.startswith("```", i) else 1
            end = src.find("`" * fence, i + fence)
            if end < 0:
                raise unclosed(i)
            start = pos
            emit(src[i + fence : end])
            entity = _entity("pre" if fence == 3 else "code", start, pos)
            if entity is not None:
                entities.append(entity)
            i = end + fence
        elif ch == "[":
            end = src.find("]", i + 1)
            if end < 0:
                raise unclosed(i)
            if src.startswith("(", end + 1):
                url_end = src.find(")", end + 2)
                if url_end < 0:
                    raise unclosed(i)
                start = pos
                emit(src[i + 1 : end])
                entity = _entity("text_link", start, pos, url=src[end + 2 : url_end])
                if entity is not None:
                    entities.append(entity)
                i = url_end + 1
            else:
                emit(src[i : end + 1])
                i = end + 1
        else:
            emit(ch)
            i += 1
    return "".join(out), entities


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace like Telegram, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    result: list[JSONDict] = []
    for entity in entities:
        start = max(0, int(entity.get("offset", 0)) - shift)
        end = min(total, int(entity.get("offset", 0)) + int(entity.get("length", 0)) - shift)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def parse_formatted(text: str, parse_mode: str) -> tuple[str, list[JSONDict]]:
    """Plain text and sorted entities of ``text`` in ``parse_mode`` (case-insensitive), or a 400."""
    mode = parse_mode.lower()
    try:
        if mode == "html":
            text, entities = _parse_html(text)
        elif mode == "markdownv2":
            text, entities = _parse_markdown_v2(text)
        elif mode == "markdown":
            text, entities = _parse_markdown(text)
        else:
            raise bad_request("unsupported parse_mode")
    except _EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from exc
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


def _format(
    raw: Any,
    parse_mode: Any,
    entities: Any,
    *,
    limit: int,
    required: bool,
    empty_error: str,
    long_error: str,
) -> tuple[str | None, list[JSONDict]]:
    """Apply ``parse_mode``/``entities`` and Telegram's trimming and length checks."""
    if raw is None or raw == "":
        if required:
            raise bad_request(empty_error)
        return None, []
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if parse_mode:
        text, parsed = parse_formatted(text, str(parse_mode))
    else:
        parsed = [dict(e) for e in entities] if isinstance(entities, list) else []
    text, parsed = _strip_text(text, parsed)
    if not text:
        if required:
            raise bad_request(empty_error)
        return None, []
    if len(text) > limit:
        raise bad_request(long_error)
    return text, parsed


def format_text(params: JSONDict) -> tuple[str, list[JSONDict]]:
    """The ``text`` of a sendMessage/editMessageText request, formatted; it is required."""
    text, entities = _format(
        params.get("text"),
        params.get("parse_mode"),
        params.get("entities"),
        limit=TEXT_LIMIT,
        required=True,
        empty_error="message text is empty",
        long_error="message is too long",
    )
    return text or "", entities


def format_caption(params: JSONDict) -> tuple[str | None, list[JSONDict]]:
    """The ``caption`` of a media request, formatted; ``None`` when there is none."""
    return _format(
        params.get("caption"),
        params.get("parse_mode"),
        params.get("caption_entities"),
        limit=CAPTION_LIMIT,
        required=False,
        empty_error="message caption is empty",
        long_error="message caption is too long",
    )
