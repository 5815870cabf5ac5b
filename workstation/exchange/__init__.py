"""Feedback exchange: training-ready exports, signed review bundles, merging, agreement.

No Qt here. Every export, import and statistic has one entry point that the CLI and the GUI
call, and each returns a result object saying what it wrote (rows, skipped items and why):

- `export.export(reviews, format, out, ...)` -> `ExportResult` (trl-stepwise, trl-preference,
  kto, prm800k, report-html, report-md); `parquet.export_parquet(con, folder)` for tables.
- `bundle.write_bundle(...)` / `merge.import_bundles(paths, target, ...)` -> `ImportResult`.
- `agreement.compute_stats(reviews)` -> JSON-able dict; `agreement.disagreements(reviews)`.
- `keys.KeyStore` (Ed25519 keys in the OS keyring or a passphrase-protected file) and
  `keys.TrustedKeys` (the public keys a user trusts).
"""
