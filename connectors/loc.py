"""How many lines of its own code each platform connector has: ``python -m connectors.loc``.

A platform's code is ``connectors/<platform>.py`` (payment providers: ``payments/<provider>``) plus any ``connectors/<platform>_*.py`` beside it
(a refund or draft-order module split off still counts, unless it is a listed platform of its own). Counted: non-blank lines that are not
comments and not inside the module's, a class's or a function's docstring. The shared base
(``connectors/base.py`` and the modules it re-exports) is not counted against any platform.
"""
from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLATFORMS = ("shopify", "woocommerce", "lightspeed", "netsuite", "odoo", "bigcommerce", "magento", "sapb1",
             "shipstation", "flexport", "payments/stripe", "payments/adyen", "payments/paypal", "business_central",
             "salesforce_b2c", "netsuite_restlet", "quickbooks", "zoho_inventory", "cin7_core", "airtable",
             "helpdesk/zendesk", "helpdesk/gorgias", "helpdesk/intercom", "loop_returns", "salesforce_oci")


def docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers covered by the docstrings of the module, its classes and its functions."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return lines


def code_lines(source: str) -> int:
    """Non-blank, non-comment lines outside docstrings."""
    skip = docstring_lines(ast.parse(source))
    counted: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                          tokenize.ENDMARKER):
            continue
        for line in range(token.start[0], token.end[0] + 1):
            if line not in skip:
                counted.add(line)
    return len(counted)


def platform_files(platform: str, root: Path = HERE) -> list[Path]:
    """A listed platform's module beside it (``netsuite_restlet.py`` beside ``netsuite.py``) is its own."""
    return [root / f"{platform}.py", *sorted(path for path in root.glob(f"{platform}_*.py") if path.stem not in PLATFORMS)]


def platform_lines(platform: str, root: Path = HERE) -> int:
    return sum(code_lines(path.read_text()) for path in platform_files(platform, root))


def main(argv: list[str] | None = None) -> int:
    for platform in (argv or sys.argv[1:]) or PLATFORMS:
        files = ", ".join(path.name for path in platform_files(platform))
        print(f"{platform:<12} {platform_lines(platform):>4}  ({files})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
