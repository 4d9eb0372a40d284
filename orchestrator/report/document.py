"""The report as a document: a list of blocks (headings, paragraphs, bullets, tables, images,
collapsible details), written out as Markdown and as HTML, so both formats always say the same
thing. What the blocks say is report/sections.py's."""

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    text: str
    level: int


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    """Items are plain text or (bold lead, text) pairs."""

    items: list[str | tuple[str, str]]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    id: str | None = None  # HTML id (the summary table is `verdict-summary`, a contract with the browser test)


@dataclass(frozen=True)
class Image:
    path: str
    caption: str


@dataclass(frozen=True)
class Details:
    """Evidence kept out of the way: collapsible in HTML, a plain subsection in Markdown."""

    summary: str
    blocks: list["Block"] = field(default_factory=list)


Block = Heading | Paragraph | Bullets | Table | Image | Details


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        match block:
            case Heading(text, level):
                lines += ["#" * level + " " + text, ""]
            case Paragraph(text):
                lines += [text, ""]
            case Bullets(items):
                lines += [
                    f"- **{item[0]}** {item[1]}" if isinstance(item, tuple) else f"- {item}" for item in items
                ] + [""]
            case Details(summary, inner):
                lines += [f"**{summary}**", "", to_markdown(inner)]
            case Table(header, rows):
                lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                lines.append("")
            case Image(path, caption):
                lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    return "\n".join(lines)


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1600px; }
table { border-collapse: collapse; font-size: 12px; margin-bottom: 1em; max-width: 100%; }
td { overflow-wrap: break-word; }
img { max-width: 100%; }
th:nth-child(-n+2), td:nth-child(-n+2) { white-space: nowrap; }
code { font-size: 11px; background: #f6f6f6; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
th { background: #f0f0f0; }
figure { margin: 1em 0; }
figcaption { font-size: 12px; color: #444; }
details { margin: 0.3em 0; font-size: 13px; }
summary { cursor: pointer; }
#verdict-summary td:nth-child(4) { font-weight: bold; }
"""


def _inline(text: str) -> str:
    """Escaped text whose `code` spans (commands to run) become <code>, as the markdown shows them."""
    pieces = html.escape(text).split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: leave the text as it is
        return html.escape(text)
    return "".join(f"<code>{piece}</code>" if index % 2 else piece for index, piece in enumerate(pieces))


def _html_blocks(blocks: list[Block]) -> list[str]:
    escape = html.escape
    parts = []
    for block in blocks:
        match block:
            case Heading(text, level):
                parts.append(f"<h{level}>{escape(text)}</h{level}>")
            case Paragraph(text):
                parts.append(f"<p>{_inline(text)}</p>")
            case Bullets(items):
                parts.append(
                    "<ul>"
                    + "".join(
                        f"<li><strong>{escape(item[0])}</strong> {_inline(item[1])}</li>"
                        if isinstance(item, tuple)
                        else f"<li>{_inline(item)}</li>"
                        for item in items
                    )
                    + "</ul>"
                )
            case Details(summary, inner):
                parts.append(
                    f"<details><summary>{escape(summary)}</summary>" + "\n".join(_html_blocks(inner)) + "</details>"
                )
            case Table(header, rows, table_id):
                head = "".join(f"<th>{escape(h)}</th>" for h in header)
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows)
                id_attribute = f" id='{escape(table_id)}'" if table_id else ""
                parts.append(f"<table{id_attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            case Image(path, caption):
                parts.append(
                    f"<figure><img src='{escape(path)}' alt='{escape(caption)}'><figcaption>{escape(caption)}</figcaption></figure>"
                )
    return parts


def to_html(blocks: list[Block]) -> str:
    """Images are referenced relative to the report (figures/...), so the page loads from its folder."""
    title = next((b.text for b in blocks if isinstance(b, Heading)), "report")
    head = f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head><body>"
    return "\n".join([head, *_html_blocks(blocks), "</body></html>\n"])
