"""One keyed cache for samples, math verdicts and code verdicts: a `Table` says what a row holds, a
backend stores rows by key (`SqliteStore`, or `ShardStore` for a shared filesystem), and a typed cache
(`KeyedCache`) turns its values into rows and back."""
