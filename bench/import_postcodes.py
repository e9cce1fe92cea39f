"""Benchmark: loading a national-size postcode file on PostgreSQL.

Creates a scratch database, a hierarchy of 20,000 streets and a CSV of ``--rows``
postcodes (default 500,000; the whole UK is about 2.7 million), then measures in one run:

* import: ``commonwatch import-postcodes``' code path (parse, validate, upsert in batches,
  one transaction);
* baseline: PostgreSQL's COPY of the same, already-resolved rows into a scratch table
  with the same primary key and index — the physical limit on this machine;
* reimport: the same file again (every row an update, nothing duplicated).

Its last line is machine-readable:
``import_s=<f> baseline_s=<f> ratio=<import/baseline> reimport_s=<f> rows_per_s=<f>
areas_s=<f>`` (areas_s: loading the 20,421 areas, for scale).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from core import create_app
from core.areas import import_areas, import_postcodes
from core.extensions import db
from core.models import Area, Postcode
from core.testing.pytest_plugin import fresh_database_url

LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def make_files(tmp: Path, rows: int) -> tuple[Path, Path]:
    rng = random.Random(7)
    areas = tmp / "areas.csv"
    with areas.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["code", "name", "level", "parent_code"])
        out.writerow(["F1", "Force", "force", ""])
        for d in range(20):
            out.writerow([f"D{d}", f"District {d}", "district", "F1"])
            for w in range(20):
                out.writerow([f"W{d}.{w}", f"Ward {d}.{w}", "ward", f"D{d}"])
                for s in range(50):
                    out.writerow([f"S{d}.{w}.{s}", f"Street {s}", "street", f"W{d}.{w}"])
    postcodes = tmp / "postcodes.csv"
    with postcodes.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["postcode", "area_code", "latitude", "longitude"])
        n = 0
        for outward in range(1, 100):
            for area in ("AB", "HF", "ZE", "KT", "LN", "SG", "WD", "YO"):
                for digit in range(10):
                    for a in LETTERS:
                        for b in LETTERS:
                            if n == rows:
                                return areas, postcodes
                            street = f"S{rng.randrange(20)}.{rng.randrange(20)}.{rng.randrange(50)}"
                            out.writerow([f"{area}{outward} {digit}{a}{b}", street,
                                          f"{51 + rng.random():.6f}", f"{-rng.random():.6f}"])
                            n += 1
    return areas, postcodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    base = os.environ.get("COMMONWATCH_BENCH_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url = fresh_database_url(base, "bench_postcodes", tmp)
        areas_csv, postcodes_csv = make_files(tmp, args.rows)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "PLUGINS": "none"})
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            with areas_csv.open() as fh:
                import_areas(fh)
            areas_s = time.perf_counter() - start
            area_count = db.session.scalar(select(func.count(Area.id)))
            print(f"areas: {area_count} in {areas_s:.2f} s")

            start = time.perf_counter()
            with postcodes_csv.open() as fh:
                result = import_postcodes(fh)
            import_s = time.perf_counter() - start
            assert result.created == args.rows, result

            start = time.perf_counter()
            with postcodes_csv.open() as fh:
                again = import_postcodes(fh)
            reimport_s = time.perf_counter() - start
            assert again.created == 0 and again.updated == args.rows, again
            assert db.session.scalar(select(func.count()).select_from(Postcode)) == args.rows

            # Baseline: COPY the resolved rows into a table shaped like postcode.
            area_ids = dict(db.session.execute(select(Area.code, Area.id)).all())
            buffer = io.StringIO()
            with postcodes_csv.open() as fh:
                reader = csv.reader(fh)
                next(reader)
                for postcode, code, lat, lon in reader:
                    buffer.write(f"{postcode}\t{area_ids[code]}\t{lat}\t{lon}\n")
            db.session.execute(text(
                "CREATE TABLE scratch_postcode (postcode varchar(8) PRIMARY KEY, "
                "area_id integer NOT NULL REFERENCES area(id), latitude float, longitude float)"
            ))
            db.session.execute(text("CREATE INDEX ON scratch_postcode (area_id)"))
            db.session.commit()
            raw = db.engine.raw_connection()
            start = time.perf_counter()
            with raw.cursor() as cursor, cursor.copy("COPY scratch_postcode FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            raw.commit()
            baseline_s = time.perf_counter() - start
            raw.close()
            db.session.remove()
            db.engine.dispose()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows: {args.rows}, peak RSS {rss_mb:.0f} MB")
    print(f"import_s={import_s:.2f} baseline_s={baseline_s:.2f} "
          f"ratio={import_s / baseline_s:.1f} reimport_s={reimport_s:.2f} "
          f"rows_per_s={args.rows / import_s:.0f} areas_s={areas_s:.2f}")


if __name__ == "__main__":
    main()
