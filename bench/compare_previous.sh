#!/usr/bin/env bash
# bench/compare_previous.sh -- a bench run against the previous one.
#
#   bench/compare_previous.sh PREV_README NEW_README
#
# Reads the Markdown tables of two bench/results/README.md files (the previous run's, which
# bench/run.sh keeps as README.previous.md, and the new one), matches the rows present in
# both by the table's heading and the row's first cells (its client and command, or its
# first cell when the table has no command column; ports of 127.x addresses ignored), and
# for every numeric column of the row (by header name: wall s, CPU ms, peak RSS MB,
# CPU µs/req, Ir / request, ...) gives the new value, the previous value and new /
# previous. A ratio above 1.10 is flagged "slower" (a time) or "more" (anything else), and
# for a rate (req/s, MiB/s) a ratio below 1 / 1.10 is flagged "slower"; a difference of one
# unit in the last digit printed is never flagged. Columns that describe the input rather
# than measure the run (URLs, requests, connections, concurrency, ok, ideal, floor), counts
# of files checked, the columns comparing a row's client with another (vs wrk, salvo /
# this) and the Targets
# table (its numbers are the figures') are left out. Rows and tables found in only one of
# the two are listed as new or gone.
#
# Prints the comparison as Markdown and appends it to NEW_README as the section
# "Against the previous run" (replacing that section if NEW_README already has one).
# Exits 0 whatever the numbers say; 2 on a usage error.
set -u
[ $# -eq 2 ] || { echo "usage: $0 PREV_README NEW_README" >&2; exit 2; }
for f in "$1" "$2"; do [ -r "$f" ] || { echo "compare_previous: cannot read $f" >&2; exit 2; }; done
command -v python3 >/dev/null || { echo "compare_previous: needs python3" >&2; exit 2; }

exec python3 - "$1" "$2" <<'PY'
import os
import re
import sys

SECTION = "## Against the previous run"
THRESHOLD = 1.10
SKIP_COLUMNS = {"urls", "requests", "connections", "concurrency", "ok", "ideal s", "floor s"}
# The targets repeat figures' numbers, each in its own direction.
SKIP_TABLES = {"Targets"}
NUM = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(%| x)?$")


def clean(cell):
    """A cell without Markdown emphasis, HTML spaces and surrounding blanks."""
    cell = cell.replace("&nbsp;", " ").replace("**", "")
    return re.sub(r"\s+", " ", cell).strip()


def key_text(cell):
    """A cell as a matching key: ports of loopback addresses do not count."""
    cell = clean(cell)
    cell = re.sub(r"\b(127\.\d+\.\d+\.\d+|localhost):\d+", r"\1:PORT", cell)
    return cell


def column_name(cell):
    """A header cell as a column name: no emphasis, no parenthesised detail."""
    name = re.sub(r"\([^)]*\)", "", clean(cell))
    return re.sub(r"\s+", " ", name).strip().lower()


def number(cell):
    c = clean(cell)
    if not NUM.match(c):
        return None
    return float(re.sub(r"(%| x)$", "", c))


def decimals(cell):
    c = re.sub(r"(%| x)$", "", clean(cell))
    return len(c.split(".", 1)[1]) if "." in c else 0


def cells(line):
    """The cells of a table line; \\| inside a cell is not a separator."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [c.replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


def parse(path):
    """{table key: (heading, header cells, {row key: (label, cells)}, [row keys])},
    the run's date line and its mode (full or quick)."""
    tables, order = {}, []
    heading, per_heading = "(before any heading)", {}
    date, mode = "", ""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            if line.strip() == SECTION:
                break  # the comparison appended to an earlier run: not a result
            heading = clean(line.lstrip("#"))
            i += 1
            continue
        if not date and re.match(r"^\d{4}-\d\d-\d\dT", line):
            date = line.split(",")[0]
            m = re.search(r"\b(full|quick) run\b", line)
            mode = m.group(1) if m else ""
        if (line.lstrip().startswith("|") and i + 1 < len(lines)
                and re.match(r"^\s*\|?\s*:?-{3,}", lines[i + 1])):
            header = cells(line)
            per_heading[heading] = per_heading.get(heading, 0) + 1
            tkey = heading if per_heading[heading] == 1 else "%s (table %d)" % (
                heading, per_heading[heading])
            names = [column_name(h) for h in header]
            nkey = names.index("command") + 1 if "command" in names else 1
            rows, row_order, seen = {}, [], {}
            above_key, above_label = "", ""
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                row = cells(lines[i])
                row += [""] * (len(header) - len(row))
                label = " · ".join(clean(c) for c in row[:nkey] if clean(c))
                rkey = " | ".join(key_text(c) for c in row[:nkey])
                if clean(row[0]).startswith("↳"):
                    # A row about the row above it (its extrapolation): keyed by both.
                    rkey, label = above_key + " " + rkey, above_label + " " + label
                else:
                    above_key, above_label = rkey, label
                seen[rkey] = n = seen.get(rkey, 0) + 1
                if n > 1:
                    rkey += " #%d" % n
                    label += " (#%d)" % n
                rows[rkey] = (label, row)
                row_order.append(rkey)
                i += 1
            tables[tkey] = (heading, header, rows, row_order, nkey)
            order.append(tkey)
            continue
        i += 1
    return tables, order, date, mode


def skip_column(name):
    """Columns that describe the input, count files checked, or compare two clients
    within the row."""
    return name in SKIP_COLUMNS or name.startswith(("vs ", "files ")) or name.endswith("/ this")


def is_rate(name):
    return bool(re.search(r"/ ?s$|/s\b|per second", name))


def is_time(name):
    return bool(re.search(r"\b(wall|cpu|user|sys|time|done|completion|latency)\b|"
                          r"(^| )(s|ms|µs|us)( |$)|µs|/ ?ideal|/ ?floor", name))


def flag(name, new, old, new_cell, old_cell):
    if old == 0 or new is None or old is None:
        return ""
    unit = 10 ** -max(decimals(new_cell), decimals(old_cell))
    if abs(new - old) <= unit * 1.0001:
        return ""
    r = new / old
    if is_rate(name):
        return "slower" if r < 1 / THRESHOLD else ""
    if r > THRESHOLD:
        return "slower" if is_time(name) else "more"
    return ""


def compare(prev_path, new_path):
    prev, prev_order, prev_date, prev_mode = parse(prev_path)
    new, new_order, new_date, new_mode = parse(new_path)
    out = [SECTION, ""]
    out.append("This run%s against the previous one%s, read from %s: every row found in"
               " both, matched by table and command; each cell is new value, previous value,"
               " new / previous. A ratio above %.2f is flagged (for a rate such as req/s, below %.2f)." % (
                   " of %s" % new_date if new_date else "",
                   " of %s" % prev_date if prev_date else "",
                   os.path.basename(prev_path), THRESHOLD, 1 / THRESHOLD))
    if prev_mode and new_mode and prev_mode != new_mode:
        out.append("")
        out.append("The previous run was a %s run and this one a %s run: their sizes differ,"
                   " so few rows match." % (prev_mode, new_mode))
    out.append("")
    flagged, body, listed = [], [], 0
    for tkey in new_order:
        if tkey in SKIP_TABLES:
            continue
        if tkey not in prev:
            body += ["### %s" % tkey, "", "A new table.", ""]
            continue
        _, nhead, nrows, norder, nkey = new[tkey]
        _, phead, prows, porder, _ = prev[tkey]
        pcols = {column_name(h): j for j, h in enumerate(phead)}
        # The numeric columns of this table that the previous one also has, in order.
        cols = [(j, column_name(h), clean(h)) for j, h in enumerate(nhead)
                if j >= nkey and column_name(h) in pcols and not skip_column(column_name(h))]
        lines, fresh, used = [], [], set()
        for rkey in norder:
            label, nrow = nrows[rkey]
            if rkey not in prows:
                fresh.append(label)
                continue
            prow = prows[rkey][1]
            row, flags = {}, []
            for j, name, shown in cols:
                pj = pcols[name]
                ncell, pcell = nrow[j], prow[pj] if pj < len(prow) else ""
                nv, pv = number(ncell), number(pcell)
                if nv is None or pv is None:
                    continue
                ratio = "%.2f" % (nv / pv) if pv != 0 else ("1.00" if nv == 0 else "-")
                fl = flag(name, nv, pv, ncell, pcell)
                if fl:
                    ratio = "**%s**" % ratio
                    flags.append("**%s**: %s" % (fl, shown))
                    flagged.append("**%s**: %s: %s, %s: %s -> %s (%s)" % (
                        fl, tkey, label, shown, clean(pcell), clean(ncell), ratio.strip("*")))
                row[j] = "%s, %s, %s" % (clean(ncell), clean(pcell), ratio)
                used.add(j)
                listed += 1
            if row:
                lines.append((label, row, flags))
        if lines:
            shown_cols = [(j, shown) for j, _, shown in cols if j in used]
            table = ["| row | %s | slower / more |" % " | ".join(
                         shown for _, shown in shown_cols),
                     "|---|%s---|" % ("---|" * len(shown_cols))]
            for label, row, flags in lines:
                table.append("| %s | %s | %s |" % (
                    label.replace("|", "\\|"), " | ".join(row.get(j, "") for j, _ in shown_cols),
                    ", ".join(flags)))
            lines = table
        gone = [prows[k][0] for k in porder if k not in nrows]
        if not (lines or fresh or gone):
            continue
        body += ["### %s" % tkey, ""]
        if lines:
            body += lines + [""]
        for label in fresh:
            body.append("- new row: %s" % label)
        for label in gone:
            body.append("- gone row: %s" % label)
        if fresh or gone:
            body.append("")
    for tkey in prev_order:
        if tkey not in new and tkey not in SKIP_TABLES:
            body += ["### %s" % tkey, "", "Gone: the previous run had this table, this one has"
                     " not.", ""]
    if flagged:
        out.append("**%d of %d values flagged:**" % (len(flagged), listed))
        out.append("")
        out += ["- %s" % f for f in flagged]
    else:
        out.append("No value flagged (%d compared)." % listed)
    out.append("")
    return "\n".join(out + body).rstrip("\n") + "\n"


def main():
    prev_path, new_path = sys.argv[1], sys.argv[2]
    text = compare(prev_path, new_path)
    sys.stdout.write(text)
    with open(new_path, encoding="utf-8", errors="replace") as f:
        readme = f.read()
    at = readme.find("\n" + SECTION + "\n")
    if at >= 0:
        readme = readme[:at + 1]
    if not readme.endswith("\n"):
        readme += "\n"
    if not readme.endswith("\n\n"):
        readme += "\n"
    with open(new_path, "w", encoding="utf-8") as f:
        f.write(readme + text)


main()
PY
