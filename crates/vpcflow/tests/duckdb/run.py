"""Runs SQL statements in one in-memory DuckDB connection, for the Rust tests.

Reads {"statements": ["...", ...]} as JSON on stdin; prints, as JSON on
stdout, one {"columns": [...], "rows": [[...], ...]} per statement (rows of
statements without a result are empty). Integers stay integers, NULL is null,
other values become strings. A statement that fails stops the run: the
statement and DuckDB's error go to stderr and the exit status is 1.
"""

import json
import sys

import duckdb


def plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def main():
    job = json.load(sys.stdin)
    con = duckdb.connect()
    results = []
    for statement in job["statements"]:
        try:
            cursor = con.execute(statement)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            rows = [[plain(v) for v in row] for row in cursor.fetchall()] if columns else []
        except Exception as e:  # noqa: BLE001 - reported to the test as is
            sys.stderr.write(f"statement failed:\n{statement}\nerror: {e}\n")
            sys.exit(1)
        results.append({"columns": columns, "rows": rows})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
