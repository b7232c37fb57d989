"""The HTML page of the report: one self-contained file (inline CSS, figures as data URIs, no JS,
nothing fetched). Kept as a Python string so it ships inside the package with no package-data rule.
Placeholders ($title, $subtitle, $toc, $body, $generated) are filled by :mod:`.report`."""
from string import Template

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
  body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2329;
         max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; line-height: 1.45; }
  h1 { font-size: 1.7em; margin-bottom: 0.1em; }
  h2 { border-bottom: 2px solid #d8dee4; padding-bottom: 4px; margin-top: 2.2em; }
  h3 { margin-top: 1.4em; font-size: 1.05em; }
  .subtitle { color: #57606a; margin-top: 0; }
  nav ol { columns: 2; font-size: 0.92em; }
  table { border-collapse: collapse; margin: 10px 0 14px; font-size: 0.83em; }
  th, td { border: 1px solid #d0d7de; padding: 3px 7px; text-align: right; white-space: nowrap; }
  th { background: #f3f5f7; text-align: center; }
  td.name, th.name { text-align: left; font-weight: 600; }
  tr.ref td { background: #fff8e6; }
  td small { color: #57606a; font-size: 0.92em; }
  .sig { font-weight: 700; }
  .scroll { overflow-x: auto; }
  figure { margin: 12px 0 22px; }
  figure img { max-width: 100%; border: 1px solid #e1e4e8; }
  figcaption { color: #57606a; font-size: 0.88em; margin-top: 4px; }
  .notrun { background: #f6f8fa; border-left: 4px solid #afb8c1; padding: 8px 12px; color: #57606a; }
  .note { color: #57606a; font-size: 0.88em; }
  code { background: #f3f5f7; padding: 0 3px; border-radius: 3px; }
  footer { margin-top: 3em; color: #8c959f; font-size: 0.85em; border-top: 1px solid #d8dee4; padding-top: 8px; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="subtitle">$subtitle</p>
<nav><ol>
$toc
</ol></nav>
$body
<footer>$generated</footer>
</body>
</html>
""")
