"""Feedback exchange: training-ready exports, signed review bundles, merging, agreement.

No Qt here. Every export, import and statistic has one entry point that the CLI and the GUI
call; exports and imports return a result object saying what they wrote (rows, skipped items
and why) with `summary()` for people and `to_dict()` for `--json`:

- `export.export(reviews, fmt, out, neutral=..., aggregate=..., reviewers=...)` and
  `export.export_from_store(store, fmt, out, sessions=...)` -> `ExportResult`, for
  trl-stepwise, trl-preference, kto, prm800k, report (HTML) and report-md; each writes a
  manifest beside the file. `parquet.export_parquet_from_store(store, folder)` copies every table.
- `bundle.bundle_from_store(store, out, key, session_ids=..., chain_ids=...)` (or
  `bundle.write_bundle`) -> `ExportResult`; `merge.import_bundles(paths, target, trusted)`
  -> `ImportResult`, with `merge.StoreTarget(store)` as the target.
- `agreement.compute_stats(reviews)` -> JSON-able dict; `agreement.disagreements(reviews)`
  (the queue) and `agreement.adjudicate(tree, node_id, reviewer, label, reason)` (an
  operation to apply).
- `keys.KeyStore` (Ed25519 keys in the OS keyring, or a passphrase-protected file where
  there is none) and `keys.TrustedKeys` (the public keys a user trusts).

`reviews` is a `corpus.ReviewSet`: trees plus adjudications and models (`ReviewSet.from_store`).
"""
